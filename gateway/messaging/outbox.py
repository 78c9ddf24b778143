"""The outbox: every outbound message is a row before it is a provider call.

RQ runs a job at least once, so a job may run twice or die halfway. The row makes
that safe: a job first claims the row (``queued`` -> ``sending``, one UPDATE that
only one worker can win), then calls the provider, then records the provider's id.
A row left in ``sending`` by a crash is not resent blindly; the reconciler settles it.
Jobs carry the row's id, never a phone number.

Rows are claimed per provider request, not per job, so a crash leaves at most the
requests in flight in ``sending``. ``attempts`` counts provider requests across
every job that ever held the row; past ``SEND_ATTEMPTS`` a row fails instead of
going back to the queue, so no re-queued job can start its budget afresh.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.encoding import sms_size
from gateway.errors import AmbiguousProviderError, ProviderError, TransientProviderError
from gateway.phone import mask, to_e164
from gateway.providers.base import DeliveryReport, SendOutcome
from gateway.store.models import Member, OutboundMessage, utcnow
from gateway.store.states import MessageState

log = logging.getLogger(__name__)

FINAL = {MessageState.DELIVERED, MessageState.FAILED, MessageState.UNKNOWN, MessageState.CANCELLED}
# The order a report may move a row in; a final state never moves back.
RANK = {"queued": 0, "waiting": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "unknown": 3, "cancelled": 3}


def add(
    db: Session, member: Member, body: str, kind: str = "reply", broadcast_id: int | None = None, flush: bool = True
) -> OutboundMessage:
    """A queued row for ``body``. With ``flush`` False it has no id until the session
    flushes: a batch of texts inserts its replies together."""
    size = sms_size(body)
    row = OutboundMessage(
        member_id=member.id,
        body=body[:1600],
        kind=kind,
        channel="sms",
        broadcast_id=broadcast_id,
        encoding=size.encoding,
        segments=size.segments,
        status=MessageState.QUEUED,
    )
    db.add(row)
    if flush:
        db.flush()
    return row


def client_id(message_id: int) -> str:
    """The id a provider that takes one (Android) keeps for this row: the same on every
    retry, so a retry after a lost answer is refused rather than sent twice."""
    return f"og-{message_id}"


def claim(db: Session, message_id: int) -> OutboundMessage | None:
    """Take the row for sending; None if another worker has it or it is done."""
    won = db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id, OutboundMessage.status == MessageState.QUEUED)
        .values(status=MessageState.SENDING, attempts=OutboundMessage.attempts + 1, updated_at=utcnow())
    ).rowcount
    return db.get(OutboundMessage, message_id) if won == 1 else None


def claim_many(db: Session, message_ids: list[int], token: str) -> list[int]:
    """Take these rows for one provider request; returns the ids this call won."""
    db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(message_ids), OutboundMessage.status == MessageState.QUEUED)
        .values(status=MessageState.SENDING, claim=token, attempts=OutboundMessage.attempts + 1, updated_at=utcnow())
    )
    return list(db.scalars(select(OutboundMessage.id).where(OutboundMessage.claim == token)))


def failure_outcomes(exc: ProviderError, phones: list[str]) -> list[SendOutcome]:
    """What a provider error raised for a whole request means for each recipient."""
    return [
        SendOutcome(
            phone,
            False,
            error=str(exc)[:200],
            transient=isinstance(exc, TransientProviderError),
            ambiguous=isinstance(exc, AmbiguousProviderError),
        )
        for phone in phones
    ]


def settle(outcome: SendOutcome, last_try: bool) -> tuple[str, str | None]:
    """The status and error a send outcome leaves its row in.

    An ambiguous failure (the provider may have sent it) is ``unknown``: never
    resent automatically. A transient one (not sent) goes back to ``queued`` for
    the job's retry to claim again, unless the attempts are spent: then it fails
    rather than strand in the queue.
    """
    if outcome.accepted:
        return MessageState.SENT, None
    if outcome.ambiguous:
        return MessageState.UNKNOWN, (outcome.error or "no answer; may have been sent")[:200]
    if outcome.transient and not last_try:
        return MessageState.QUEUED, (outcome.error or "")[:200] or None
    error = f"gave up after retries: {outcome.error}" if outcome.transient else outcome.error
    return MessageState.FAILED, (error or "")[:200] or None


def record(db: Session, message_id: int, provider: str, outcome: SendOutcome, last_try: bool) -> str:
    """Store the provider's answer; returns the new status."""
    row = db.get(OutboundMessage, message_id)
    row.provider = provider
    row.status, row.error = settle(outcome, last_try)
    if outcome.accepted:
        row.provider_message_id = outcome.provider_message_id
    if outcome.opted_out:
        member = db.get(Member, row.member_id)
        if member is not None and member.opted_out_at is None:
            member.opted_out_at = utcnow()
            log.info("member %s opted out at the provider", mask(member.phone))
    return row.status


# A report for a send whose answer was lost is matched to the member's unknown row
# this recent; older rows are for an organiser to settle.
REPORT_MATCH_WINDOW = timedelta(days=2)


def apply_report(db: Session, report: DeliveryReport) -> bool:
    """Move the row the report names forward. Unknown ids change nothing, except
    that a report for a number with an ``unknown`` row (its send timed out, so we
    never learnt the provider's id) settles that row: the provider did send it."""
    row = db.scalar(
        select(OutboundMessage).where(
            OutboundMessage.provider == report.provider,
            OutboundMessage.provider_message_id == report.provider_message_id,
        )
    )
    if row is None:
        row = _unknown_row_for(db, report)
        if row is None:
            return False
        row.provider_message_id = report.provider_message_id
        row.status, row.error = MessageState.SENT, None  # the provider had it; the report moves it on
    if report.opted_out:
        member = db.get(Member, row.member_id)
        if member is not None and member.opted_out_at is None:
            member.opted_out_at = utcnow()
    if report.status and row.status not in FINAL and RANK[report.status] > RANK[row.status]:
        row.status = report.status
        row.error = (report.error or row.error or "")[:200] or None
    return True


def settle_stuck(db: Session, older_than: datetime) -> list[int]:
    """Rows left in ``sending`` by a crashed worker become ``unknown``: we cannot
    know whether the provider got them, and resending could send twice."""
    stuck = list(
        db.scalars(
            select(OutboundMessage.id).where(
                OutboundMessage.status == MessageState.SENDING, OutboundMessage.updated_at < older_than
            )
        )
    )
    if stuck:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(stuck))
            .values(status=MessageState.UNKNOWN, claim=None, error="worker stopped mid-send; not resent")
        )
    return stuck


def _unknown_row_for(db: Session, report: DeliveryReport) -> OutboundMessage | None:
    if not report.phone:
        return None
    # Providers echo the E.164 number we sent to; parse anything else.
    phone = report.phone if report.phone.startswith("+") else to_e164(report.phone)
    return db.scalar(
        select(OutboundMessage)
        .join(Member, Member.id == OutboundMessage.member_id)
        .where(
            Member.phone == phone,
            OutboundMessage.status == MessageState.UNKNOWN,
            OutboundMessage.provider == report.provider,
            OutboundMessage.provider_message_id.is_(None),
            OutboundMessage.updated_at > utcnow() - REPORT_MATCH_WINDOW,
        )
        .order_by(OutboundMessage.updated_at)
        .limit(1)
    )


def stranded_replies(db: Session, queued_before: datetime) -> list[int]:
    """Conversational replies still queued since before then (the reconciler
    checks whether Redis holds their job)."""
    return list(
        db.scalars(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.status == MessageState.QUEUED,
                OutboundMessage.kind == "reply",
                OutboundMessage.broadcast_id.is_(None),
                OutboundMessage.updated_at < queued_before,
            )
            .order_by(OutboundMessage.id)
            .limit(1000)
        )
    )
