"""Bulk sending: a broadcast's outbox rows written, queued in batches, and sent.

``dispatch`` writes the rows (unique per broadcast and member) and queues batch
jobs of row ids; ``send_batch`` claims a batch with one UPDATE and a claim token,
so a second dispatch, a retried job or another worker never sends a row twice.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from rq import get_current_job
from sqlalchemy import select, update

from gateway import broker
from gateway.encoding import sms_size
from gateway.errors import PermanentProviderError, TransientProviderError
from gateway.messaging import broadcasts, outbox
from gateway.messaging import calls as voice_calls
from gateway.messaging.throttle import Throttle
from gateway.providers.base import SendOutcome
from gateway.services import Services
from gateway.store.models import Broadcast, Member, OutboundMessage, utcnow


def dispatch(services: Services, broadcast_id: int, not_before=None):
    """Write a broadcast's outbox rows and queue its batches; returns
    (rows added, batches queued, when they may start: None for now).
    ``not_before`` holds them until then (a poll that opens later)."""
    config, database = services.config, services.db
    with database.session() as db:
        broadcast = db.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status == "cancelled":
            raise LookupError(f"broadcast {broadcast_id} was cancelled")
        renderer = broadcasts.renderer_for(db, broadcast, services.catalog,
                                           config.default_language)
        added = broadcasts.materialise(db, broadcast, renderer)
        now = utcnow()
        start = not_before if not_before is not None and not_before > now else now
        when = broadcasts.next_allowed(start, config.quiet_window(), config.timezone) or (
            start if start > now else None)
        broadcast.status, broadcast.send_after = "sending", when
        broadcast.started_at = broadcast.started_at or now
    with database.session() as db:
        batches = broadcasts.queued_batches(db, broadcast_id, config.bulk_batch_size)
    for ids in batches:
        broker.enqueue(services.queues["bulk"], "send_batch", ids, config=config, at=when,
                       retry=broker.SEND_RETRY)
    return added, len(batches), when


def send_batch(services: Services, message_ids: list[int]) -> dict:
    """Claim a batch of bulk rows in one UPDATE, send them, record every outcome.

    Rows another worker already claimed (or that are done) are simply not won.
    Rows sharing a text go to Africa's Talking in one request.
    """
    database, provider, config = services.db, services.provider, services.config
    token = uuid.uuid4().hex
    with database.session() as db:
        db.execute(update(OutboundMessage)
                   .where(OutboundMessage.id.in_(message_ids), OutboundMessage.status == "queued")
                   .values(status="sending", claim=token, attempts=OutboundMessage.attempts + 1,
                           updated_at=utcnow()))
        claimed = db.execute(
            select(OutboundMessage.id, OutboundMessage.body, Member.phone, Member.opted_out_at,
                   Broadcast.cancelled_at, OutboundMessage.channel)
            .join(Member, Member.id == OutboundMessage.member_id)
            .outerjoin(Broadcast, Broadcast.id == OutboundMessage.broadcast_id)
            .where(OutboundMessage.claim == token)).all()
    results: dict[int, SendOutcome] = {}
    cancelled: list[int] = []
    by_body: dict[str, list[tuple[int, str]]] = {}
    calls: list[tuple[int, str]] = []
    for message_id, body, phone, opted_out_at, cancelled_at, channel in claimed:
        if cancelled_at is not None:
            cancelled.append(message_id)
        elif phone is None:
            results[message_id] = SendOutcome("", False, error="member erased")
        elif opted_out_at is not None:
            results[message_id] = SendOutcome(phone, False, error="opted out")
        elif channel == "voice":
            calls.append((message_id, phone))
        else:
            by_body.setdefault(body, []).append((message_id, phone))
    if calls:
        results.update(voice_calls.place(services, calls))
    throttle = Throttle(services.redis, provider.name, config.segments_per_second)
    chunks = []
    for body, recipients in by_body.items():
        size = throttle.largest_batch(sms_size(body).segments, config.bulk_batch_size)
        chunks += [(body, recipients[start:start + size]) for start in range(0, len(recipients), size)]

    def send_chunk(item):
        body, chunk = item
        phones = [phone for _, phone in chunk]
        throttle.take(sms_size(body).segments * len(phones))
        try:
            return chunk, provider.send(body, phones)
        except (TransientProviderError, PermanentProviderError) as exc:
            transient = isinstance(exc, TransientProviderError)
            return chunk, [SendOutcome(p, False, error=str(exc), transient=transient) for p in phones]

    # Personalised texts are one request each: keep a bounded number in flight.
    with ThreadPoolExecutor(max_workers=max(1, min(config.send_concurrency, len(chunks)))) as pool:
        for chunk, outcomes in pool.map(send_chunk, chunks):
            for (message_id, _), outcome in zip(chunk, outcomes, strict=True):
                results[message_id] = outcome
    job = get_current_job()
    last_try = job is None or not job.retries_left
    counts = _record_batch(database, provider.name, results, cancelled, last_try)
    if counts.get("queued"):
        raise TransientProviderError(f"{counts['queued']} of {len(message_ids)} will be retried")
    return counts


def _record_batch(database, provider_name: str, results: dict, cancelled: list[int],
                  last_try: bool) -> dict:
    now = utcnow()
    rows, opted_out, counts = [], [], {}
    settled = [(message_id, *outbox.settle(outcome, last_try), outcome)
               for message_id, outcome in results.items()]
    settled += [(message_id, "cancelled", None, None) for message_id in cancelled]
    for message_id, status, error, outcome in settled:
        counts[status] = counts.get(status, 0) + 1
        accepted = outcome is not None and outcome.accepted
        rows.append({"id": message_id, "status": status, "provider": provider_name,
                     "provider_message_id": outcome.provider_message_id if accepted else None,
                     "error": error, "claim": None, "updated_at": now})
        if outcome is not None and outcome.opted_out:
            opted_out.append(message_id)
    with database.session() as db:
        if rows:
            db.execute(update(OutboundMessage), rows)  # bulk UPDATE by primary key
        if opted_out:
            db.execute(update(Member).where(
                Member.id.in_(db.query(OutboundMessage.member_id).filter(OutboundMessage.id.in_(opted_out))),
                Member.opted_out_at.is_(None)).values(opted_out_at=now))
    return counts
