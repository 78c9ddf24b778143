"""Every state a row can be in: one ``StrEnum`` per table with states.

The members are strings (``MessageState.SENT == "sent"``), so the database, JSON
and templates see the same words as before; the database also refuses any other
word (a CHECK constraint per column, ``check``), so a typo is an error where it is
written, not a row that no query finds.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class MessageState(StrEnum):
    """``outbound_messages.status``: queued -> sending -> sent -> delivered | failed;
    ``unknown`` when the provider may have sent it (never resent blindly); a call not
    answered is ``waiting`` for its next try; ``cancelled`` with its broadcast."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class BroadcastState(StrEnum):
    """``broadcasts.status``: draft -> sending -> done, or cancelled."""

    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class ReminderState(StrEnum):
    """``reminders.status``: scheduled -> firing -> sent; cancelled with its session,
    missed when its moment passed before it could fire."""

    SCHEDULED = "scheduled"
    FIRING = "firing"
    SENT = "sent"
    CANCELLED = "cancelled"
    MISSED = "missed"


class VersionState(StrEnum):
    """``content_versions.status``: draft -> published -> past (one published at a time)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    PAST = "past"


def check(table: str, states: type[StrEnum]) -> CheckConstraint:
    """The CHECK constraint that keeps ``table.status`` to ``states``."""
    words = ", ".join(f"'{state.value}'" for state in states)
    return CheckConstraint(f"status IN ({words})", name=f"ck_{table}_status")
