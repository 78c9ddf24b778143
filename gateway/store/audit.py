"""The audit log: who sent, edited, cancelled or erased what, and when.

Entries name rows (``member 12``, ``broadcast 3``), never a phone number or a
name, so the log can be kept after a member is erased.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import AuditEvent


def record(db: Session, actor: str, action: str, subject: str, detail: str | None = None) -> AuditEvent:
    event = AuditEvent(actor=actor[:120], action=action[:40], subject=subject[:80], detail=(detail or "")[:500] or None)
    db.add(event)
    return event


def recent(db: Session, limit: int = 100) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
