"""Accounts, for admins: add one, change a role, disable or enable, reset a password.

Every change is in the audit log. A new role, a reset password and disabling end
every session of that account at its next request (``users.end_sessions``). A reset
makes a new random password, shown once to the admin to pass on; nobody, the admin
included, ever sees an account's password again. The last enabled admin cannot be
demoted or disabled, or nobody could manage accounts.
"""

from __future__ import annotations

import secrets

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import say
from gateway.errors import InputProblem
from gateway.runtime import runtime
from gateway.store import audit
from gateway.store import users as accounts
from gateway.store.models import User


def role_names() -> dict[str, str]:
    return {"admin": _("Admin"), "editor": _("Editor"), "organiser": _("Organiser"), "viewer": _("Viewer")}


def _page(errors=None, form=None, notice=None, new_password=None, status=200):
    with runtime().db.session() as db:
        rows = [(u.id, u.email, u.role, u.disabled_at, u.last_login_at) for u in accounts.everyone(db)]
    return render_template(
        "dashboard/users.html",
        rows=rows,
        roles=role_names(),
        errors=errors or {},
        form=form or {},
        notice=notice,
        new_password=new_password,
        back_to=url_for("dashboard.users"),
    ), status


@bp.get("/users", endpoint="users")
@needs("manage")
def users_page():
    return _page()


@bp.post("/users", endpoint="user_add")
@needs("manage")
def add():
    form = {key: request.form.get(key, "")[:254] for key in ("email", "role", "language")}
    password = request.form.get("password", "")[:1000]
    with runtime().db.session() as db:
        try:
            user = accounts.add(
                db,
                form["email"],
                password,
                form["role"],
                form["language"] if form["language"] in ("lo", "en") else "lo",
            )
        except InputProblem as exc:
            db.rollback()
            return _page({exc.field: say(exc)}, form, status=400)
        audit.record(db, g.user.email, "user.add", f"user {user.id}", f"role {user.role}")
        email = user.email
    return _page(notice=_("Account %(email)s added. Give her the password by a safe way, not by email.", email=email))


def _change(user_id: int, change):
    """Apply ``change(db, user)`` (which returns the audit action and detail), or
    show why not; nothing is written when it refuses."""
    with runtime().db.session() as db:
        user = db.get(User, user_id)
        if user is None:
            return _page(notice=_("No such account."), status=404)
        try:
            action, detail, shown = change(db, user)
        except InputProblem as exc:
            db.rollback()
            return _page(notice=say(exc), status=400)
        audit.record(db, g.user.email, action, f"user {user.id}", detail)
        email = user.email
    notice, password = shown(email)
    if user_id == g.user.id and action != "user.password":
        return redirect(url_for("dashboard.login"))  # her own sessions ended with it
    return _page(notice=notice, new_password=password)


@bp.post("/users/<int:user_id>/role", endpoint="user_role")
@needs("manage")
def set_role(user_id: int):
    role = request.form.get("role", "")

    def change(db, user):
        accounts.set_role(db, user, role)
        return (
            "user.role",
            f"role {role}",
            lambda email: (
                _("%(email)s is now: %(role)s. Her open sessions have ended.", email=email, role=role_names()[role]),
                None,
            ),
        )

    return _change(user_id, change)


@bp.post("/users/<int:user_id>/disable", endpoint="user_disable")
@needs("manage")
def disable(user_id: int):
    def change(db, user):
        accounts.disable(db, user)
        return (
            "user.disable",
            None,
            lambda email: (_("%(email)s can no longer sign in. Her open sessions have ended.", email=email), None),
        )

    return _change(user_id, change)


@bp.post("/users/<int:user_id>/enable", endpoint="user_enable")
@needs("manage")
def enable(user_id: int):
    def change(db, user):
        accounts.enable(user)
        return "user.enable", None, lambda email: (_("%(email)s can sign in again.", email=email), None)

    return _change(user_id, change)


@bp.post("/users/<int:user_id>/password", endpoint="user_password")
@needs("manage")
def reset_password(user_id: int):
    password = new_password()

    def change(db, user):
        accounts.set_password(user, password)
        return (
            "user.password",
            "reset by an admin",
            lambda email: (
                _("New password for %(email)s, shown only now. Her open sessions have ended.", email=email),
                password,
            ),
        )

    return _change(user_id, change)


def new_password() -> str:
    """A password to read out or copy: 16 letters and digits, about 95 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
