"""Organisers' accounts: passwords hashed with scrypt, roles, and slow guessing.

Roles: a **viewer** reads, and sees members' numbers masked; an **organiser** also
sees them whole, sends, edits and erases; an **admin** also manages accounts. An
account can be disabled; a role change, a new password, disabling and signing out
end every session of hers (``session_version``, which the dashboard's cookie names).
Wrong passwords are counted by the dashboard, per account and address together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import InputProblem
from gateway.store.models import User, utcnow

ROLES = ("admin", "editor", "organiser", "viewer")
# An editor is an organiser who may also publish content: what every member reads
# and hears. A network can give that to the person who owns its Lao wording without
# letting her manage accounts (an admin's work).
CAN = {
    "read": {"admin", "editor", "organiser", "viewer"},
    "send": {"admin", "editor", "organiser"},
    "manage": {"admin"},
    "see_numbers": {"admin", "editor", "organiser"},
    "publish": {"admin", "editor"},
    # Sending in quiet hours wakes members at night: an admin's decision, audited.
    "urgent": {"admin"},
}
MIN_PASSWORD = 10
# OWASP's scrypt parameters (N=2^17, r=8, p=1): about 0.3 s and 128 MB a check on this
# machine, slow for guessing. A hash made with older, cheaper ones is redone at sign-in.
_SCRYPT = {"n": 2**17, "r": 8, "p": 1}
_MAXMEM = 2**28  # hashlib's default (32 MB) is below what N=2^17 needs
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=_MAXMEM, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
        base64.b64encode(part).decode() for part in (salt, digest)
    )


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(found, expected)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("scrypt${n}${r}${p}$".format(**_SCRYPT))


def _checked_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise _about("email", InputProblem("%(email)s is not an email address", email=repr(email)))
    return email


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise _about("password", InputProblem("the password needs at least %(count)s characters", count=MIN_PASSWORD))
    if len(password) > 1000:
        raise _about("password", InputProblem("the password is longer than 1,000 characters"))
    return password


def _checked_role(role: str) -> str:
    if role not in ROLES:
        raise _about(
            "role", InputProblem("role %(role)s is not one of %(roles)s", role=repr(role), roles=", ".join(ROLES))
        )
    return role


def add(db: Session, email: str, password: str, role: str, language: str = "lo") -> User:
    """Create an account; an InputProblem (a ValueError) says what is wrong, in the
    organiser's language on the dashboard, and nothing is written."""
    email = _checked_email(email)
    _checked_role(role)
    _checked_password(password)
    if by_email(db, email) is not None:
        raise _about("email", InputProblem("%(email)s has an account already", email=email))
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        language=language,
        failed_logins=0,
        session_version=0,
    )
    db.add(user)
    db.flush()
    return user


def by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def everyone(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.email)))


def check_login(
    db: Session, email: str, password: str, now: datetime | None = None, allowed: bool = True
) -> User | None:
    """The user when the password is right, the account is enabled and the caller
    ``allowed`` it (the dashboard's lock), else None. Every kind of "no" takes the
    same time and says the same thing, so a sign-in form never tells which emails
    have accounts. A hash made with older parameters is made again with today's."""
    now = now or utcnow()
    user = by_email(db, email)
    if user is None:
        hash_password(password)  # the same time whether or not the account exists
        return None
    if not password_matches(password[:1000], user.password_hash) or user.disabled_at is not None or not allowed:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def end_sessions(user: User) -> None:
    """Every sign-in of hers ends at its next request (the cookie names the version)."""
    user.session_version = (user.session_version or 0) + 1


def set_role(db: Session, user: User, role: str) -> None:
    """A new role; her sessions end, so what she may see changes at once."""
    if user.role == "admin" and role != "admin":
        _keep_an_admin(db, user)
    user.role = _checked_role(role)
    end_sessions(user)


def disable(db: Session, user: User, now: datetime | None = None) -> None:
    if user.role == "admin":
        _keep_an_admin(db, user)
    user.disabled_at = user.disabled_at or now or utcnow()
    end_sessions(user)


def enable(user: User) -> None:
    user.disabled_at = None


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(_checked_password(password))
    end_sessions(user)


def _keep_an_admin(db: Session, leaving: User) -> None:
    """Refuse to take away the last enabled admin: nobody could manage accounts."""
    others = db.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.disabled_at.is_(None), User.id != leaving.id)
    )
    if not others:
        raise _about(
            "role", InputProblem("%(email)s is the only enabled admin; make another admin first", email=leaving.email)
        )


def _about(field: str, problem: InputProblem) -> InputProblem:
    """``problem``, naming the form field it is about (the Users page shows it there)."""
    problem.field = field
    return problem


def can(user: User, what: str) -> bool:
    return user.role in CAN[what]
