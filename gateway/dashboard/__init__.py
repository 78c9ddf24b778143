"""The organiser dashboard at ``/``: pages rendered on the server, in Lao and English.

``auth`` signs organisers in and out, keeps every form safe from cross-site posts
(a CSRF token per session) and checks roles on the server; ``form`` holds what the
forms share. One module per page family: ``overview``, ``members``, ``sessions``,
``broadcasts``, ``inbox`` (members' questions, answered), ``polls``, ``quiz``, ``content`` (the wording editor: drafts, preview, publish, history), ``quiz_builder``, ``survey_builder``, ``surveys`` (results), ``languages`` (adding one), ``flows``, ``simulator``, ``studio`` (voice prompts), ``users`` (accounts, for admins) and ``audit`` (the
log, for admins). Words come from Flask-Babel catalogs
(``translations/``); each user picks her language. Nothing is loaded from the
internet: styles and the Lao font are served from the installed package.
"""

from __future__ import annotations

from flask import Flask, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import Babel

from gateway.dashboard import (  # noqa: F401 (their routes join the blueprint)
    audit,
    auth,
    broadcasts,
    content,
    flows,
    inbox,
    languages,
    members,
    overview,
    polls,
    quiz,
    quiz_builder,
    sessions,
    simulator,
    studio,
    survey_builder,
    surveys,
    users,
)
from gateway.dashboard.auth import LANGUAGES, bp


def init_app(app: Flask) -> None:
    config = app.config["GATEWAY"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        BABEL_TRANSLATION_DIRECTORIES="dashboard/translations",
        BABEL_DEFAULT_LOCALE=config.default_language,
        BABEL_DEFAULT_TIMEZONE=config.timezone,
    )
    Babel(app, locale_selector=_language)
    app.session_interface = CookieSessions()
    app.register_blueprint(bp)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, which build their signer on every request,
    cookie or not. Webhooks never carry the cookie: a request without it now gets
    its empty session at once (1.6% of an SMS webhook's instructions). One
    with it is read as before."""

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _language() -> str:
    """The language she chose (kept in her session), else the gateway's default."""
    chosen = session.get("lang") if request else None
    return chosen if chosen in LANGUAGES else auth.default_language()
