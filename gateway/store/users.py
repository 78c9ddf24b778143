"""Organisers' accounts: passwords hashed with scrypt, roles, and slow guessing.

Roles: a **viewer** reads; an **organiser** also sends, edits and erases; an
**admin** also manages accounts. Five wrong passwords in a row lock an account for
15 minutes; the lock and the count are on the row, so every web process sees them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.models import User, utcnow

ROLES = ("admin", "organiser", "viewer")
CAN = {"read": {"admin", "organiser", "viewer"}, "send": {"admin", "organiser"}, "manage": {"admin"}}
MIN_PASSWORD = 10
LOCK_AFTER, LOCK_FOR = 5, timedelta(minutes=15)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # about 50 ms and 16 MB a check: slow for guessing
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
        base64.b64encode(part).decode() for part in (salt, digest))


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                               n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(found, expected)


def add(db: Session, email: str, password: str, role: str, language: str = "lo") -> User:
    """Create an account; ValueError says what is wrong, and nothing is written."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if by_email(db, email) is not None:
        raise ValueError(f"{email} has an account already")
    user = User(email=email, password_hash=hash_password(password), role=role, language=language,
                failed_logins=0)
    db.add(user)
    db.flush()
    return user


def by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def check_login(db: Session, email: str, password: str, now: datetime | None = None) -> tuple[User | None, str]:
    """(the user, "ok") when the password is right; otherwise (None, "wrong") or
    (None, "locked"). A wrong password counts towards the lock; a right one, while
    locked, does not open it early."""
    now = now or utcnow()
    user = by_email(db, email)
    if user is None:
        hash_password(password)  # the same time whether or not the account exists
        return None, "wrong"
    if user.locked_until is not None and user.locked_until > now:
        return None, "locked"
    if not password_matches(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= LOCK_AFTER:
            user.locked_until, user.failed_logins = now + LOCK_FOR, 0
            return None, "locked"
        return None, "wrong"
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return user, "ok"


def can(user: User, what: str) -> bool:
    return user.role in CAN[what]
