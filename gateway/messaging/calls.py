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

from gateway.phone import mask
from gateway.providers.base import SendOutcome
from gateway.store.models import Member, OutboundMessage, utcnow

log = logging.getLogger(__name__)
ANSWERED, RETRY, FAILED = "answered", "retry", "failed"
# Final call statuses, as each provider names them.
TWILIO_OUTCOME = {"completed": ANSWERED, "busy": RETRY, "no-answer": RETRY, "failed": FAILED, "canceled": FAILED}
AT_RETRY_CAUSES = {"NO_ANSWER", "USER_BUSY", "NO_USER_RESPONSE", "CALL_REJECTED", "ORIGINATOR_CANCEL",
                   "NORMAL_TEMPORARY_FAILURE", "RECOVERY_ON_TIMER_EXPIRE"}
CALLBACK_DEDUPE_S = 300  # ringing three times in a row earns one call-back


def at_outcome(form) -> str:
    """Africa's Talking's end-of-call post: ``status`` and ``hangupCause``."""
    cause = (form.get("hangupCause") or "").upper()
    status = form.get("status") or form.get("callSessionState") or ""
    if status in ("NotAnswered", "Failed", "Aborted") or cause in AT_RETRY_CAUSES:
        return RETRY if cause in AT_RETRY_CAUSES or status == "NotAnswered" else FAILED
    return ANSWERED


def answer_url(base: str, message_id: int) -> str:
    return f"{base}/voice/twilio?call={message_id}"


def place(gateway, rows: list[tuple[int, str]]) -> dict[int, SendOutcome]:
    """Place one call per (row id, phone); returns each outcome."""
    config = gateway.config["GATEWAY"]
    provider = gateway.extensions["provider"]
    base = config.public_base_url.rstrip("/")
    return {message_id: provider.call(phone, answer_url(base, message_id), f"{base}/status/twilio")
            for message_id, phone in rows}


def find(db: Session, provider: str, call_id: str) -> OutboundMessage | None:
    return db.scalar(select(OutboundMessage).where(
        OutboundMessage.channel == "voice", OutboundMessage.provider == provider,
        OutboundMessage.provider_message_id == call_id[:64]))


def settle(gateway, provider: str, call_id: str, outcome: str) -> str | None:
    """Record a placed call's final status; retry an unanswered one later."""
    from gateway.messaging.broadcasts import next_allowed

    config = gateway.config["GATEWAY"]
    with gateway.extensions["db"].session() as db:
        row = find(db, provider, call_id)
        if row is None or row.status in ("delivered", "failed", "cancelled"):
            return None
        if outcome == ANSWERED:
            row.status, row.error = "delivered", None
            return row.status
        if outcome == RETRY and row.attempts <= config.voice_retries:
            later = utcnow() + timedelta(minutes=config.voice_retry_minutes)
            when = next_allowed(later, config.quiet_window(), config.timezone) or later
            row.status, row.error, row.provider_message_id = "waiting", "not answered; calling again", None
            message_id = row.id
        else:
            row.status, row.error = "failed", ("not answered" if outcome == RETRY else "call failed")
            return row.status
    gateway.extensions["queues"]["bulk"].enqueue_at(when, call_again, message_id, result_ttl=config.job_result_ttl,
                                                    failure_ttl=config.job_failure_ttl)
    return "waiting"


def call_again(message_id: int) -> str:
    """RQ job: a call that was not answered goes back in the queue and is placed again."""
    from gateway.messaging import bulk
    from gateway.messaging import jobs as tasks

    gateway = tasks.app()
    with gateway.extensions["db"].session() as db:
        won = db.execute(update(OutboundMessage).where(
            OutboundMessage.id == message_id, OutboundMessage.status == "waiting")
            .values(status="queued", updated_at=utcnow())).rowcount
    if won != 1:
        return "not waiting (cancelled, or already called again)"
    return str(bulk.send_batch([message_id]))


def overdue(db: Session, retry_minutes: int) -> list[int]:
    """Waiting calls whose retry job is well past due: Redis lost it (for the reconciler)."""
    return list(db.scalars(select(OutboundMessage.id).where(
        OutboundMessage.status == "waiting",
        OutboundMessage.updated_at < utcnow() - timedelta(minutes=retry_minutes + 15))))


def missed_call(gateway, phone: str) -> bool:
    """She rang and we rejected it: call her back within a minute. True if queued."""
    from gateway.messaging.jobs import enqueue_call_back

    with gateway.extensions["db"].session() as db:
        member = db.scalar(select(Member).where(Member.phone == phone))
        if member is None:  # keep only the number, as for a first SMS
            member = Member(phone=phone, language=gateway.config["GATEWAY"].default_language, source="voice")
            db.add(member)
            db.flush()
        if member.opted_out_at is not None:
            return False
        member_id = member.id
    if not gateway.extensions["redis"].set(f"voice:callback:{member_id}", 1, nx=True, ex=CALLBACK_DEDUPE_S):
        return False
    log.info("missed call from %s: calling back", mask(phone))
    enqueue_call_back(gateway, member_id)
    return True


def call_back(member_id: int) -> str:
    """RQ job: one outbox row for the call-back, claimed and placed like any call."""
    from gateway.messaging import bulk
    from gateway.messaging import jobs as tasks

    gateway = tasks.app()
    with gateway.extensions["db"].session() as db:
        row = OutboundMessage(member_id=member_id, kind="callback", channel="voice", body="call-back",
                              encoding="voice", segments=0, status="queued")
        db.add(row)
        db.flush()
        message_id = row.id
    return str(bulk.send_batch([message_id]))


def flow_for(db: Session, message_id: int) -> tuple[str, dict]:
    """What an answered call we placed plays: (flow, starting variables)."""
    row = db.get(OutboundMessage, message_id)
    if row is not None and row.kind == "bulk" and row.broadcast_id is not None:
        return "reminder_call", {"message_id": row.id}
    return "main", {}

