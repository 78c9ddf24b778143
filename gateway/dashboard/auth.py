"""Signing in and out, CSRF tokens, and roles, all checked on the server.

- Passwords are checked against scrypt hashes (``gateway.store.users``). Five wrong
  ones from one address lock that account *from that address* for 15 minutes, so
  nobody elsewhere can lock an organiser out; each address may try ten times a
  minute. Both are counted in Redis, so every web process agrees. Every "no" says
  the same words, so the form never tells which emails have accounts; each one is
  in the audit log. Behind ``TRUSTED_PROXIES`` proxies the address is the client's.
- The cookie names the account and its ``session_version``: signing out, a new
  password, a new role and disabling raise it, which ends every session of hers at
  her next request. A session also ends after ``SESSION_IDLE_MINUTES`` unused.
- Every POST to the dashboard carries the session's CSRF token; one without it is
  refused (400) and changes nothing. The session is renewed at sign-in.
- A page says which ability it needs (read, send, manage); a user without it gets 403.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import format_date, format_datetime, format_decimal, format_number, format_percent
from flask_babel import gettext as _
from markupsafe import Markup

from gateway.dashboard.form import keep_draft
from gateway.runtime import runtime
from gateway.store import audit
from gateway.store import users as accounts
from gateway.store.models import User

bp = Blueprint(
    "dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/static/dashboard"
)
OPEN = {"dashboard.login", "dashboard.login_post", "dashboard.static", "dashboard.font", "dashboard.language"}
TRIES_PER_MINUTE = 10
LOCK_AFTER, LOCK_S = 5, 15 * 60
FONTS = Path(__file__).resolve().parent.parent / "polls" / "fonts"


LANGUAGES = ("lo", "en")  # the dashboard's own (its translations/)


def default_language() -> str:
    return current_app.config["GATEWAY"].default_language


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_context_processor
def _template_helpers():
    return {
        "csrf_token": csrf_token,
        "user": g.get("user"),
        "language": session.get("lang") or default_language(),
        "format_number": format_number,
        "format_percent": format_percent,
        "format_datetime": format_datetime,
        "format_date": format_date,
        "format_decimal": format_decimal,
        "lang_name": language_name,
        "member_languages": _member_languages,
        "identifier": identifier,
    }


_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9'’.,!?:;() /-]*[A-Za-z0-9.!?:)]|[A-Za-z]")
_PLACEHOLDER = re.compile(r"(\{[^}]*\})")


@bp.app_template_filter("english_marked")
def english_marked(text: str | None, lang: str = "lo", tag: str = "span") -> Markup:
    """A member-facing text in ``lang`` with its English on purpose (the language
    menu's "Choose language") marked ``lang="en"``, as screen readers and fonts
    expect. Placeholders such as {name} are left as they are."""
    text = text or ""
    if lang == "en":
        return Markup.escape(text)
    out = []
    for part in _PLACEHOLDER.split(text):
        if _PLACEHOLDER.fullmatch(part):
            out.append(Markup.escape(part))
            continue
        at = 0
        for match in _LATIN_RUN.finditer(part):
            out.append(Markup.escape(part[at : match.start()]))
            out.append(Markup('<%s lang="en">%s</%s>') % (tag, match.group(), tag))
            at = match.end()
        out.append(Markup.escape(part[at:]))
    return Markup("").join(out)


def identifier(text: str) -> Markup:
    """A name that is neither Lao nor English (a file's, a code members type), marked
    as no language (``zxx``) so that screen readers and the Lao check leave it be."""
    return Markup('<code lang="zxx">%s</code>') % text


def _member_languages():
    from gateway.dashboard.form import member_languages

    return member_languages()


def language_name(code: str) -> str:
    """A language's name in its own script, as its catalog gives it (``ພາສາລາວ``)."""
    catalog = runtime().services.catalog
    return catalog.name(code)


@bp.before_request
def _guard():
    if request.method == "POST" and request.endpoint not in OPEN and not isinstance(session.get("user"), int):
        # Her session expired while she typed: keep her text, and bring it back after sign-in.
        keep_draft()
        return redirect(url_for("dashboard.login", next=request.path))
    if request.method == "POST":
        given = request.form.get("csrf", "")
        if not given or not hmac.compare_digest(given, session.get("csrf", "")):
            return render_template(
                "dashboard/message.html",
                title=_("This form has expired"),
                text=_("Please go back, reload the page and try again. Nothing was saved."),
            ), 400
    g.user = current_user()
    if g.user is None and request.endpoint not in OPEN:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    return None


def current_user() -> User | None:
    """Her account, if the cookie's sign-in still holds: the account exists and is
    enabled, no sign-out, new password or new role has ended it since, and it has been
    used within ``SESSION_IDLE_MINUTES``. Otherwise the cookie is emptied."""
    user_id = session.get("user")
    if not isinstance(user_id, int):
        return None
    now = int(time.time())
    seen = session.get("seen")
    idle_s = current_app.config["GATEWAY"].session_idle_minutes * 60
    with runtime().db.session() as db:
        user = db.get(User, user_id)
        if user is not None:
            db.expunge(user)
    if (
        user is None
        or user.disabled_at is not None
        or session.get("ver") != user.session_version
        or not isinstance(seen, int)
        or now - seen > idle_s
    ):
        session.clear()
        return None
    if now - seen >= 30:  # not on every request: the cookie is sent again each time it changes
        session["seen"] = now
    return user


def needs(ability: str):
    """The page needs ``ability`` (read, send, manage): 403 for anyone without it."""

    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if g.get("user") is None or not accounts.can(g.user, ability):
                abort(403)
            return view(*args, **kwargs)

        return checked

    return wrap


@bp.get("/login")
def login():
    return render_template("dashboard/login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login_post():
    email, password = request.form.get("email", "")[:254], request.form.get("password", "")[:1000]
    next_page = _safe_next(request.form.get("next"))
    if not _may_try():
        return render_template(
            "dashboard/login.html",
            next=next_page,
            email=email,
            error=_("Too many tries from here. Please wait a minute."),
        ), 429
    pair = _pair_key(email)
    redis = runtime().redis
    locked = int(redis.get(pair) or 0) >= LOCK_AFTER
    with runtime().db.session() as db:
        # Checked even while locked: the same time and the same words either way.
        user = accounts.check_login(db, email, password, allowed=not locked)
        if user is not None:
            audit.record(db, user.email, "sign in", f"user {user.id}")
            user_id, language, version = user.id, user.language, user.session_version
        else:
            known = accounts.by_email(db, email)
            tries = _count_failure(pair) if not locked else LOCK_AFTER
            audit.record(
                db,
                "sign-in form",
                "sign in refused",
                f"user {known.id}" if known else "no such account",
                f"from {_address_tag()}" + (", locked for 15 minutes" if tries >= LOCK_AFTER else ""),
            )
            user = None
    if user is None:
        return render_template(
            "dashboard/login.html",
            next=next_page,
            email=email,
            error=_("Wrong email or password, or too many tries. Check them, or wait 15 minutes and try again."),
        ), 401
    draft = session.get("draft")  # what she typed before her session expired
    session.clear()  # a new session at sign-in: nothing else carried over from before
    session.permanent = True
    session.update(user=user_id, ver=version, seen=int(time.time()), lang=language)
    if draft:
        session["draft"] = draft
    return redirect(next_page)


@bp.post("/logout")
def logout():
    """Sign out everywhere: the old cookie, replayed, no longer signs anyone in."""
    if g.get("user") is not None:
        with runtime().db.session() as db:
            user = db.get(User, g.user.id)
            accounts.end_sessions(user)
            audit.record(db, user.email, "sign out", f"user {user.id}")
    session.clear()
    return redirect(url_for("dashboard.login"))


@bp.post("/language/<code>")
def language(code: str):
    """Switch the interface language (kept in her session, and on her account)."""
    if code in LANGUAGES:
        session["lang"] = code
        if g.get("user") is not None:
            with runtime().db.session() as db:
                db.get(User, g.user.id).language = code
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/fonts/phetsarath.ttf")
def font():
    """The Lao font, bundled (no CDN): LGPL Phetsarath OT, shared with the charts."""
    return send_from_directory(FONTS, "Phetsarath_OT.ttf", mimetype="font/ttf", max_age=30 * 86400)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) may follow sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("dashboard.overview")
    return target


def _address_tag() -> str:
    """Her address as a keyed hash: enough to tell addresses apart in the audit log
    and in Redis, without keeping anyone's address."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, (request.remote_addr or "").encode(), hashlib.sha256).hexdigest()[:16]


def _pair_key(email: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    account = hmac.new(secret, email.strip().lower().encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]
    return f"dash:fail:{account}:{_address_tag()}"


def _count_failure(key: str) -> int:
    """One more wrong try of this account from this address; the 15 minutes start
    at the first."""
    pipe = runtime().redis.pipeline(transaction=False)
    pipe.set(key, 0, ex=LOCK_S, nx=True)
    pipe.incr(key)
    return pipe.execute()[1]


def _may_try() -> bool:
    """Ten tries a minute per address. The minute starts at the first try (not on
    the clock's minute, where eleven quick tries could straddle two minutes)."""
    key = f"dash:login:{_address_tag()}"
    pipe = runtime().redis.pipeline(transaction=False)
    pipe.set(key, 0, ex=60, nx=True)
    pipe.incr(key)
    _, tries = pipe.execute()
    return tries <= TRIES_PER_MINUTE
