"""The organisers' inbox: members' texts that no keyword, conversation or poll took,
one thread per member with the organisers' answers, unread until handled.

Her texts are kept as the other texts she typed are: retention blanks their words
(``privacy.apply_retention``) and erasure deletes them (``privacy.erase``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from gateway.store.models import Member, MemberText, OutboundMessage

ANSWER = "answer"  # the outbox kind of an organiser's answer


@dataclass
class Thread:
    member_id: int
    name: str | None
    phone: str | None
    last_at: datetime
    last_text: str
    unread: int


def keep(db: Session, member: Member, text: str, now: datetime) -> None:
    db.add(MemberText(member_id=member.id, text=text[:1600], received_at=now))


def threads(db: Session, show: str = "unread", limit: int = 100) -> list[Thread]:
    """Members with texts, the latest first: ``unread`` (any not handled), ``handled``
    (all handled) or ``all``."""
    unread = func.sum(case((MemberText.handled_at.is_(None), 1), else_=0))
    latest = func.max(MemberText.received_at)
    query = (
        select(MemberText.member_id, latest.label("last_at"), unread.label("unread"))
        .group_by(MemberText.member_id)
        .order_by(latest.desc())
        .limit(limit)
    )
    if show == "unread":
        query = query.having(unread > 0)
    elif show == "handled":
        query = query.having(unread == 0)
    found = []
    for member_id, last_at, count in db.execute(query).all():
        member = db.get(Member, member_id)
        text = db.scalar(
            select(MemberText.text)
            .where(MemberText.member_id == member_id)
            .order_by(MemberText.received_at.desc(), MemberText.id.desc())
            .limit(1)
        )
        found.append(Thread(member_id, member.name, member.phone, last_at, text or "", int(count or 0)))
    return found


def thread(db: Session, member_id: int) -> list[tuple[str, datetime, str, str | None]]:
    """Her texts and the organisers' answers, in order: (who, when, text, status)."""
    texts = [
        ("her", t.received_at, t.text, None)
        for t in db.scalars(select(MemberText).where(MemberText.member_id == member_id))
    ]
    answers = [
        ("us", m.created_at, m.body, m.status)
        for m in db.scalars(
            select(OutboundMessage).where(OutboundMessage.member_id == member_id, OutboundMessage.kind == ANSWER)
        )
    ]
    return sorted(texts + answers, key=lambda item: item[1])


def handle(db: Session, member_id: int, actor: str, now: datetime) -> int:
    """Mark her texts handled; returns how many were not yet."""
    return db.execute(
        update(MemberText)
        .where(MemberText.member_id == member_id, MemberText.handled_at.is_(None))
        .values(handled_at=now, handled_by=actor[:254])
    ).rowcount
