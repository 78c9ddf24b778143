"""A member's data: what we hold about her, erasing it, and keeping texts only
as long as RETENTION_DAYS.

Erasure removes what identifies her or what she wrote: name, number,
organisation, topics, the texts we sent her and the replies she typed. What
counts stays, without her: votes (with the province and language they were
counted under), quiz scores, enrolments, and the rows of messages (so a
broadcast's totals do not change). STOP does not erase; erasure also opts out.
The audit log says who erased ``member 12``, never her number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.store import audit
from gateway.store.models import (
    Enrolment,
    ErasureTombstone,
    InboundMessage,
    Member,
    MemberText,
    MemberTopic,
    OutboundMessage,
    Poll,
    PollReply,
    PollVote,
    QuizAttempt,
    TrainingSession,
    utcnow,
)
from gateway.store.states import MessageState

ERASED_TEXT = ""  # a message row stays for the counts; its words go
TOMBSTONE_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class Erased:
    member_id: int
    messages: int
    replies: int


def erase(db: Session, member: Member, actor: str, now: datetime | None = None) -> Erased:
    """Remove what identifies her, keep what counts; audit-logged without her number."""
    now = now or utcnow()
    messages = db.execute(
        update(OutboundMessage).where(OutboundMessage.member_id == member.id).values(body=ERASED_TEXT, error=None)
    ).rowcount
    replies = db.execute(update(PollReply).where(PollReply.member_id == member.id).values(text=ERASED_TEXT)).rowcount
    replies += db.execute(delete(MemberText).where(MemberText.member_id == member.id)).rowcount
    db.execute(delete(MemberTopic).where(MemberTopic.member_id == member.id))
    member.phone = member.name = member.organisation = None
    member.consent_at = None
    member.opted_out_at = member.opted_out_at or now
    member.erased_at = now
    audit.record(
        db,
        actor,
        "member.erase",
        f"member {member.id}",
        f"name, number, organisation, topics; {messages} message text(s), "
        f"{replies} typed reply(ies); votes and quiz scores kept",
    )
    return Erased(member.id, messages, replies)


def report(db: Session, member: Member) -> dict[str, Any]:
    """Everything held about her, for an access request (``members show --json``)."""

    def when(value):
        return value.isoformat() if value else None

    sessions = db.execute(
        select(Enrolment, TrainingSession)
        .join(TrainingSession, TrainingSession.id == Enrolment.session_id)
        .where(Enrolment.member_id == member.id)
    )
    votes = db.execute(
        select(PollVote, Poll.code).join(Poll, Poll.id == PollVote.poll_id).where(PollVote.member_id == member.id)
    )
    return {
        "id": member.id,
        "phone": member.phone,
        "name": member.name,
        "organisation": member.organisation,
        "province": member.province,
        "language": member.language,
        "topics": member.topics,
        "source": member.source,
        "reminders_by": member.reminder_channel,
        "consent_at": when(member.consent_at),
        "opted_out_at": when(member.opted_out_at),
        "opted_in_at": when(member.opted_in_at),
        "erased_at": when(member.erased_at),
        "created_at": when(member.created_at),
        "enrolments": [
            {
                "session": s.id,
                "title": s.titles,
                "starts_at": when(s.starts_at),
                "signed_up_at": when(e.created_at),
                "confirmed_at": when(e.confirmed_at),
            }
            for e, s in sessions
        ],
        "messages_sent_to_her": [
            {"at": when(m.created_at), "kind": m.kind, "channel": m.channel, "status": m.status, "text": m.body}
            for m in db.scalars(
                select(OutboundMessage).where(OutboundMessage.member_id == member.id).order_by(OutboundMessage.id)
            )
        ],
        "texts_received_from_her": [
            {"at": when(i.received_at), "keyword": i.keyword}
            for i in db.scalars(
                select(InboundMessage).where(InboundMessage.member_id == member.id).order_by(InboundMessage.id)
            )
        ],
        "poll_votes": [{"poll": code, "option": v.option, "at": when(v.first_voted_at)} for v, code in votes],
        "poll_replies_not_counted": [
            {"at": when(r.received_at), "text": r.text}
            for r in db.scalars(select(PollReply).where(PollReply.member_id == member.id))
        ],
        "texts_to_the_organisers": [
            {"at": when(t.received_at), "text": t.text}
            for t in db.scalars(select(MemberText).where(MemberText.member_id == member.id))
        ],
        "quiz_attempts": [
            {"quiz": a.quiz, "score": a.score, "total": a.total, "at": when(a.finished_at)}
            for a in db.scalars(select(QuizAttempt).where(QuizAttempt.member_id == member.id))
        ],
    }


def apply_retention(db: Session, days: int, now: datetime | None = None) -> dict[str, int]:
    """Blank the words of messages and typed replies older than ``days``; the rows,
    and so every count, stay."""
    before = (now or utcnow()) - timedelta(days=days)
    messages = db.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.created_at < before,
            OutboundMessage.body != ERASED_TEXT,
            OutboundMessage.status.notin_((MessageState.QUEUED, MessageState.SENDING, MessageState.WAITING)),
        )
        .values(body=ERASED_TEXT)
    ).rowcount
    replies = db.execute(
        update(PollReply).where(PollReply.received_at < before, PollReply.text != ERASED_TEXT).values(text=ERASED_TEXT)
    ).rowcount
    replies += db.execute(
        update(MemberText)
        .where(MemberText.received_at < before, MemberText.text != ERASED_TEXT)
        .values(text=ERASED_TEXT)
    ).rowcount
    # A tombstone outlives any text a host could still be keeping from before the
    # erasure (a spool drains within seconds of the database's return), and is then
    # gone: even a keyed hash says a number was once the network's.
    tombstones = db.execute(
        delete(ErasureTombstone).where(ErasureTombstone.erased_at < (now or utcnow()) - TOMBSTONE_KEPT)
    ).rowcount
    return {"messages": messages, "replies": replies, "tombstones": tombstones}
