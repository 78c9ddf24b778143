"""RQ jobs. Arguments are row ids, never phone numbers (they would sit in Redis).

Jobs build the app once per worker process; the worker forks per job, so the
parent's app is inherited and nothing is reconnected per message.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from rq import Retry, get_current_job

from .encoding import sms_size
from .errors import PermanentProviderError, TransientProviderError
from .phone import mask
from .providers.base import SendOutcome
from .throttle import Throttle

log = logging.getLogger(__name__)

_app = None
# Transient failures retry with backoff: 10 s, 1 min, 5 min, 15 min, 1 h.
SEND_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])


def bind(application) -> None:
    """Run jobs in this process against ``application`` (tests, the simulator)."""
    global _app
    _app = application


def app():
    global _app
    if _app is None:
        from . import create_app

        _app = create_app()
    return _app


def enqueue_send(queues, message_id: int, *, bulk: bool = False, result_ttl: int = 3600,
                 failure_ttl: int = 6 * 3600) -> None:
    queue = queues["bulk" if bulk else "replies"]
    queue.enqueue(send_message, message_id, retry=SEND_RETRY, result_ttl=result_ttl,
                  failure_ttl=failure_ttl)


def send_message(message_id: int) -> str:
    """Claim one outbox row, send it, record the outcome."""
    from . import outbox
    from .store.models import Member

    gateway = app()
    database, provider = gateway.extensions["db"], gateway.extensions["provider"]
    with database.session() as db:
        row = outbox.claim(db, message_id)
        if row is None:
            return "not claimed (already sent, sending or cancelled)"
        member = db.get(Member, row.member_id)
        if member is None or member.phone is None:
            row.status, row.error = "failed", "member erased"
            return "failed"
        if row.kind == "bulk" and member.opted_out_at is not None:
            row.status, row.error = "failed", "opted out"
            return "failed"
        phone, body = member.phone, row.body
    # Counted so bulk sends yield to it; a reply to a member never waits.
    config = gateway.config["GATEWAY"]
    Throttle(gateway.extensions["redis"], provider.name, config.segments_per_second).take(
        sms_size(body).segments, wait=False)
    try:
        [outcome] = provider.send(body, [phone])
    except (TransientProviderError, PermanentProviderError) as exc:
        transient = isinstance(exc, TransientProviderError)
        outcome = SendOutcome(phone, False, error=str(exc), transient=transient)
    job = get_current_job()
    last_try = outcome.transient and (job is None or not job.retries_left)
    if last_try:  # the retry budget is spent: fail the row rather than strand it in "queued"
        outcome = SendOutcome(phone, False, error=f"gave up after retries: {outcome.error}")
    with database.session() as db:
        status = outbox.record(db, message_id, provider.name, outcome)
    log.info("message %s to %s: %s", message_id, mask(phone), status)
    if status == "queued":  # transient: let RQ retry with backoff
        raise TransientProviderError(f"message {message_id}: {outcome.error}")
    return status


# ------------------------------------------------------------------ broadcasts

def dispatch(application, broadcast_id: int):
    """Write a broadcast's outbox rows and queue its batches; returns
    (rows added, batches queued, when they may start: None for now)."""
    from . import broadcasts
    from .store.models import Broadcast, utcnow

    config = application.config["GATEWAY"]
    database = application.extensions["db"]
    with database.session() as db:
        broadcast = db.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status == "cancelled":
            raise LookupError(f"broadcast {broadcast_id} was cancelled")
        renderer = broadcasts.renderer_for(db, broadcast, application.extensions["catalog"],
                                           config.default_language)
        added = broadcasts.materialise(db, broadcast, renderer)
        broadcast.status = "sending"
        broadcast.started_at = broadcast.started_at or utcnow()
    with database.session() as db:
        batches = broadcasts.queued_batches(db, broadcast_id, config.bulk_batch_size)
    when = broadcasts.next_allowed(utcnow(), config.quiet_window(), config.timezone)
    queue = application.extensions["queues"]["bulk"]
    for ids in batches:
        options = dict(retry=SEND_RETRY, result_ttl=config.job_result_ttl,
                       failure_ttl=config.job_failure_ttl)
        if when is None:
            queue.enqueue(send_batch, ids, **options)
        else:
            queue.enqueue_at(when, send_batch, ids, **options)
    return added, len(batches), when


def send_batch(message_ids: list[int]) -> dict:
    """Claim a batch of bulk rows in one UPDATE, send them, record every outcome.

    Rows another worker already claimed (or that are done) are simply not won.
    Rows sharing a text go to Africa's Talking in one request.
    """
    import uuid

    from sqlalchemy import select, update

    from .store.models import Broadcast, Member, OutboundMessage, utcnow

    gateway = app()
    database, provider = gateway.extensions["db"], gateway.extensions["provider"]
    config = gateway.config["GATEWAY"]
    token = uuid.uuid4().hex
    with database.session() as db:
        db.execute(update(OutboundMessage)
                   .where(OutboundMessage.id.in_(message_ids), OutboundMessage.status == "queued")
                   .values(status="sending", claim=token, attempts=OutboundMessage.attempts + 1,
                           updated_at=utcnow()))
        claimed = db.execute(
            select(OutboundMessage.id, OutboundMessage.body, Member.phone, Member.opted_out_at,
                   Broadcast.cancelled_at)
            .join(Member, Member.id == OutboundMessage.member_id)
            .outerjoin(Broadcast, Broadcast.id == OutboundMessage.broadcast_id)
            .where(OutboundMessage.claim == token)).all()
    results: dict[int, SendOutcome] = {}
    by_body: dict[str, list[tuple[int, str]]] = {}
    for message_id, body, phone, opted_out_at, cancelled_at in claimed:
        if cancelled_at is not None:
            results[message_id] = SendOutcome(phone or "", False, error="cancelled")
        elif phone is None:
            results[message_id] = SendOutcome("", False, error="member erased")
        elif opted_out_at is not None:
            results[message_id] = SendOutcome(phone, False, error="opted out")
        else:
            by_body.setdefault(body, []).append((message_id, phone))
    throttle = Throttle(gateway.extensions["redis"], provider.name, config.segments_per_second)
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
    counts = _record_batch(database, provider.name, results, last_try)
    if counts.get("queued"):
        raise TransientProviderError(f"{counts['queued']} of {len(message_ids)} will be retried")
    return counts


def _record_batch(database, provider_name: str, results: dict, last_try: bool) -> dict:
    from sqlalchemy import update

    from .store.models import Member, OutboundMessage, utcnow

    now = utcnow()
    rows, opted_out, counts = [], [], {}
    for message_id, outcome in results.items():
        if outcome.accepted:
            status, error = "sent", None
        elif outcome.error == "cancelled":
            status, error = "cancelled", None
        elif outcome.transient and not last_try:
            status, error = "queued", outcome.error
        else:
            status = "failed"
            error = f"gave up after retries: {outcome.error}" if outcome.transient else outcome.error
        counts[status] = counts.get(status, 0) + 1
        rows.append({"id": message_id, "status": status, "provider": provider_name,
                     "provider_message_id": outcome.provider_message_id if outcome.accepted else None,
                     "error": (error or "")[:200] or None, "claim": None, "updated_at": now})
        if outcome.opted_out:
            opted_out.append(message_id)
    with database.session() as db:
        if rows:
            db.execute(update(OutboundMessage), rows)  # bulk UPDATE by primary key
        if opted_out:
            db.execute(update(Member).where(
                Member.id.in_(db.query(OutboundMessage.member_id).filter(OutboundMessage.id.in_(opted_out))),
                Member.opted_out_at.is_(None)).values(opted_out_at=now))
    return counts


def reconcile(application) -> dict:
    """Settle what a crash left behind; finish broadcasts with nothing left to send.

    Rows in ``sending`` longer than SENDING_TIMEOUT become ``unknown`` (reported,
    never resent blindly). Queued rows of a sending broadcast are queued again, and
    reminders past their time are fired: Redis may have lost their jobs, and a
    duplicate job claims nothing.
    """
    from datetime import timedelta

    from sqlalchemy import select

    from . import broadcasts, outbox
    from .store.models import Broadcast, utcnow

    from . import reminders

    config = application.config["GATEWAY"]
    database = application.extensions["db"]
    with database.session() as db:
        unknown = outbox.settle_stuck(db, utcnow() - timedelta(seconds=config.sending_timeout))
        sending = list(db.scalars(select(Broadcast.id).where(Broadcast.status == "sending")))
        overdue = reminders.due(db)
    for reminder_id in overdue:  # their RQ trigger was lost, or is about to run: a claim decides
        application.extensions["queues"]["default"].enqueue(fire_reminder, reminder_id)
    requeued = 0
    for broadcast_id in sending:
        with database.session() as db:
            left = broadcasts.progress(db, broadcast_id)
            if left["queued"] == 0 and left["sending"] == 0:
                db.get(Broadcast, broadcast_id).status = "done"
                continue
            batches = broadcasts.queued_batches(db, broadcast_id, config.bulk_batch_size)
        for ids in batches:
            application.extensions["queues"]["bulk"].enqueue(
                send_batch, ids, retry=SEND_RETRY, result_ttl=config.job_result_ttl,
                failure_ttl=config.job_failure_ttl)
            requeued += len(ids)
    if unknown:
        log.warning("reconciler: %d message(s) left mid-send by a stopped worker marked unknown "
                    "(not resent): ids %s", len(unknown), unknown[:20])
    return {"unknown": len(unknown), "requeued": requeued, "reminders": len(overdue)}


# ------------------------------------------------------------------- reminders

def schedule_reminders(application, session_id: int) -> list[int]:
    """Bring the session's reminders in step with it and queue their triggers."""
    from . import reminders
    from .store.models import TrainingSession

    config = application.config["GATEWAY"]
    with application.extensions["db"].session() as db:
        session = db.get(TrainingSession, session_id)
        scheduled = [(r.id, r.due_at) for r in reminders.sync(db, session, config.reminder_minutes())]
    queue = application.extensions["queues"]["default"]
    for reminder_id, due_at in scheduled:
        queue.enqueue_at(due_at, fire_reminder, reminder_id, result_ttl=config.job_result_ttl,
                         failure_ttl=config.job_failure_ttl)
    return [reminder_id for reminder_id, _ in scheduled]


def fire_reminder(reminder_id: int) -> str:
    """Send one reminder, once. A trigger for a moved or cancelled reminder does nothing."""
    from . import reminders

    gateway = app()
    with gateway.extensions["db"].session() as db:
        reminder = reminders.claim(db, reminder_id)
        if reminder is None:
            return "not due, already sent, or cancelled"
        broadcast_id = reminders.create_broadcast(db, reminder, gateway.extensions["catalog"])
    dispatch(gateway, broadcast_id)
    return f"broadcast {broadcast_id}"
