"""Calls we place: reminders for members who chose calls, and call-backs after a missed call.

A call is an outbox row with ``channel="voice"``: claimed like an SMS (so never
placed twice), placed through the provider, its call id recorded. The call's final
status settles it: answered -> ``delivered``; no answer or busy -> ``waiting``, and a
job ``VOICE_RETRY_MINUTES`` later (after quiet hours) puts it back in the queue and
calls again, at most ``VOICE_RETRIES`` times; then ``failed``. ``waiting`` keeps the
reconciler from re-queueing it early; if Redis loses the job, the reconciler
re-schedules it once it is overdue. When she answers, the provider asks our
voice webhook what to play: the ``reminder_call`` flow, or the main menu for a
call-back. RQ jobs carry row and member ids only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import broker
from gateway.messaging.broadcasts import next_allowed
from gateway.phone import mask
from gateway.providers.base import SendOutcome
from gateway.services import Services
from gateway.store import members
from gateway.store.models import OutboundMessage, utcnow
from gateway.store.states import MessageState

log = logging.getLogger(__name__)
ANSWERED, RETRY, FAILED = "answered", "retry", "failed"  # a placed call's end (providers map theirs)
CALLBACK_DEDUPE_S = 300  # ringing three times in a row earns one call-back


def answer_url(base: str, message_id: int) -> str:
    return f"{base}/voice/twilio?call={message_id}"


def place(services: Services, rows: list[tuple[int, str]]) -> dict[int, SendOutcome]:
    """Place one call per (row id, phone); returns each outcome."""
    base = services.config.public_base_url.rstrip("/")
    return {
        message_id: services.provider.call(phone, answer_url(base, message_id), f"{base}/status/twilio")
        for message_id, phone in rows
    }


def find(db: Session, provider: str, call_id: str) -> OutboundMessage | None:
    return db.scalar(
        select(OutboundMessage).where(
            OutboundMessage.channel == "voice",
            OutboundMessage.provider == provider,
            OutboundMessage.provider_message_id == call_id[:64],
        )
    )


def settle(services: Services, provider: str, call_id: str, outcome: str) -> str | None:
    """Record a placed call's final status; retry an unanswered one later."""
    config = services.config
    with services.db.session() as db:
        row = find(db, provider, call_id)
        if row is None or row.status in (MessageState.DELIVERED, MessageState.FAILED, MessageState.CANCELLED):
            return None
        if outcome == ANSWERED:
            row.status, row.error = MessageState.DELIVERED, None
            return row.status
        if outcome == RETRY and row.attempts <= config.voice_retries:
            later = utcnow() + timedelta(minutes=config.voice_retry_minutes)
            when = next_allowed(later, config.quiet_window(), config.timezone) or later
            row.status, row.error, row.provider_message_id = MessageState.WAITING, "not answered; calling again", None
            message_id = row.id
        else:
            row.status, row.error = MessageState.FAILED, ("not answered" if outcome == RETRY else "call failed")
            return row.status
    broker.enqueue(services.queues["bulk"], "call_again", message_id, config=config, at=when)
    return "waiting"


def requeue(services: Services, message_id: int) -> bool:
    """A waiting call goes back to ``queued``, to be placed again; False if it was
    cancelled or another trigger already took it."""
    with services.db.session() as db:
        return (
            db.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id, OutboundMessage.status == MessageState.WAITING)
                .values(status=MessageState.QUEUED, updated_at=utcnow())
            ).rowcount
            == 1
        )


def overdue(db: Session, retry_minutes: int) -> list[int]:
    """Waiting calls whose retry job is well past due: Redis lost it (for the reconciler)."""
    return list(
        db.scalars(
            select(OutboundMessage.id).where(
                OutboundMessage.status == MessageState.WAITING,
                OutboundMessage.updated_at < utcnow() - timedelta(minutes=retry_minutes + 15),
            )
        )
    )


def missed_call(services: Services, phone: str) -> bool:
    """She rang and we rejected it: call her back within a minute. True if queued."""
    with services.db.session() as db:
        # Keep only the number, as for a first SMS.
        member = members.first_contact(db, phone, language=services.config.default_language, source="voice")
        if member.opted_out_at is not None:
            return False
        member_id = member.id
    if not services.redis.set(f"voice:callback:{member_id}", 1, nx=True, ex=CALLBACK_DEDUPE_S):
        return False
    log.info("missed call from %s: calling back", mask(phone))
    # Soon, once her line is free again.
    broker.enqueue(
        services.queues["replies"], "call_back", member_id, config=services.config, delay=timedelta(seconds=10)
    )
    return True


def callback_row(services: Services, member_id: int) -> int:
    """The outbox row for a call-back, to be claimed and placed like any call."""
    with services.db.session() as db:
        row = OutboundMessage(
            member_id=member_id,
            kind="callback",
            channel="voice",
            body="call-back",
            encoding="voice",
            segments=0,
            status=MessageState.QUEUED,
        )
        db.add(row)
        db.flush()
        return row.id


def flow_for(db: Session, message_id: int) -> tuple[str, dict]:
    """What an answered call we placed plays: (flow, starting variables)."""
    row = db.get(OutboundMessage, message_id)
    if row is not None and row.kind == "bulk" and row.broadcast_id is not None:
        return "reminder_call", {"message_id": row.id}
    return "main", {}
