"""Bulk sending: a broadcast's outbox rows written, queued in batches, and sent.

``dispatch`` writes the rows (unique per broadcast and member) and queues batch
jobs of row ids; ``send_batch`` claims a batch with one UPDATE and a claim token,
so a second dispatch, a retried job or another worker never sends a row twice.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from rq import get_current_job
from sqlalchemy import select, update

from gateway import broker
from gateway.encoding import sms_size
from gateway.errors import ProviderError, TransientProviderError
from gateway.messaging import broadcasts, outbox
from gateway.messaging import calls as voice_calls
from gateway.messaging.throttle import Throttle
from gateway.providers.base import SendOutcome
from gateway.services import Services
from gateway.store.models import Broadcast, Member, OutboundMessage, TrainingSession, utcnow
from gateway.store.states import BroadcastState, MessageState


def batch_size(services: Services) -> int:
    """Rows a bulk job takes: BULK_BATCH_SIZE, or less where the provider paces itself
    (Android phones: about 20 s of their rate, so replies get a worker in between)."""
    return min(services.config.bulk_batch_size, services.provider.batch_size or services.config.bulk_batch_size)


def dispatch(services: Services, broadcast_id: int, not_before=None, urgent: bool = False):
    """Write a broadcast's outbox rows and queue its batches; returns
    (rows added, batches queued, when they may start: None for now).
    ``not_before`` holds them until then (a poll that opens later); ``urgent`` sends
    in quiet hours (an admin's decision, which the caller audits)."""
    config, database = services.config, services.db
    with database.session() as db:
        broadcast = db.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status == BroadcastState.CANCELLED:
            raise LookupError(f"broadcast {broadcast_id} was cancelled")
        renderer = broadcasts.renderer_for(db, broadcast, services.catalog, config.default_language)
        added = broadcasts.materialise(db, broadcast, renderer)
        now = utcnow()
        start = not_before if not_before is not None and not_before > now else now
        window = None if urgent else config.quiet_window()
        when = broadcasts.next_allowed(start, window, config.timezone) or (start if start > now else None)
        broadcast.status, broadcast.send_after = BroadcastState.SENDING, when
        broadcast.urgent = broadcast.urgent or urgent
        broadcast.started_at = broadcast.started_at or now
    queued = 0
    with database.session() as reading:
        # Read in batches as they go, and queued a few at a time, so the memory this
        # takes does not grow with the audience. A crash part way leaves rows no job
        # owns, which the reconciler gives one (``broadcasts.queued_by_job``).
        jobs: list[tuple[str, list[int]]] = []
        for ids in broadcasts.queued_batches(reading, broadcast_id, batch_size(services)):
            jobs.append((broker.batch_job_id(broadcast_id, ids[0]), ids))
            if len(jobs) >= JOBS_AT_ONCE:
                queued += _queue_jobs(services, jobs, when)
                jobs = []
        queued += _queue_jobs(services, jobs, when)
    return added, queued, when


JOBS_AT_ONCE = 20


def _queue_jobs(services: Services, jobs: list[tuple[str, list[int]]], when) -> int:
    """Write which job owns each row (the reconciler reads it), then queue the jobs."""
    if not jobs:
        return 0
    with services.db.session() as db:
        for job_id, ids in jobs:
            db.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(job_id=job_id))
    for job_id, ids in jobs:
        broker.enqueue(
            services.queues["bulk"],
            "send_batch",
            ids,
            config=services.config,
            at=when,
            retry=broker.jobs.SEND_RETRY,
            job_id=job_id,
        )
    return len(jobs)


def _urgent(database, message_ids: list[int]) -> bool:
    """Whether these rows belong to a broadcast an admin sent as urgent (asked only
    in quiet hours)."""
    with database.session() as db:
        return (
            bool(
                db.scalar(
                    select(Broadcast.urgent)
                    .join(OutboundMessage, OutboundMessage.broadcast_id == Broadcast.id)
                    .where(OutboundMessage.id == message_ids[0])
                )
            )
            if message_ids
            else False
        )


def send_batch(services: Services, message_ids: list[int], replies: bool = False, retry_later: bool = False) -> dict:
    """Send a batch of a broadcast's rows; returns how many rows ended in each status.

    With ``replies`` the rows are conversational replies (a batch of the inbox's):
    they are not held for quiet hours, the reply to a STOP still goes to the member
    who sent it, they are sent as urgent, and they never wait for the throttle
    (they are counted, so bulk sends yield to them).

    Outside an RQ job a transient failure is final, unless ``retry_later``: then
    the rows go back to the queue and ``TransientProviderError`` is raised, for
    the caller to hand them to RQ (``messaging/replies.py``).

    Rows are claimed a wave of requests at a time (as many as may be in flight),
    right before the wave is sent, and recorded as soon as it returns: a crash
    leaves at most the requests in flight in ``sending`` (settled ``unknown`` by the
    reconciler), and the rest of the batch ``queued`` for the same job id to pick
    up again. Rows another job already claimed (or that are done) are simply not
    won. Rows sharing a text go to Africa's Talking in one request.

    A member with several rows in the batch (quick texts, each answered) gets them
    in the order they were written: her second row goes in a later round than her
    first, and a round is sent only once the one before it has returned. Grouped
    by text alone, a reply whose words an earlier member's reply shared went first.
    """
    database, provider, config = services.db, services.provider, services.config
    if (
        not replies
        and broadcasts.next_allowed(utcnow(), config.quiet_window(), config.timezone) is not None
        and not _urgent(database, message_ids)
    ):
        # Quiet hours began while the broadcast was going out (a paced one takes hours):
        # its rows stay queued, and the reconciler sends them on in the morning.
        return {"held for quiet hours": len(message_ids)}
    job = get_current_job()
    job_id = job.id if job is not None else None
    last_job_try = not retry_later if job is None else not job.retries_left
    with database.session() as db:
        rows = db.execute(
            select(
                OutboundMessage.id,
                OutboundMessage.body,
                Member.phone,
                Member.opted_out_at,
                Broadcast.cancelled_at,
                OutboundMessage.channel,
                OutboundMessage.attempts,
                OutboundMessage.kind,
            )
            .join(Member, Member.id == OutboundMessage.member_id)
            .outerjoin(Broadcast, Broadcast.id == OutboundMessage.broadcast_id)
            .where(OutboundMessage.id.in_(message_ids), OutboundMessage.status == MessageState.QUEUED)
            .order_by(OutboundMessage.id)
        ).all()
        ttl = _worth_sending_for(db, message_ids[0]) if message_ids else None
    attempts = {row.id: row.attempts + 1 for row in rows}  # once claimed
    settled_now: dict[int, SendOutcome | None] = {}  # no provider needed; None: cancelled
    rounds: list[dict[str, list[tuple[int, str]]]] = []  # each: rows by text; a member once per round
    taken: Counter[str] = Counter()  # rows of hers already in a round
    calls: list[tuple[int, str]] = []
    for message_id, body, phone, opted_out_at, cancelled_at, channel, _, kind in rows:
        if cancelled_at is not None:
            settled_now[message_id] = None
        elif phone is None:
            settled_now[message_id] = SendOutcome("", False, error="member erased")
        elif opted_out_at is not None and kind != "reply":
            settled_now[message_id] = SendOutcome(phone, False, error="opted out")
        elif channel == "voice":
            calls.append((message_id, phone))
        else:
            if taken[phone] == len(rounds):
                rounds.append({})
            rounds[taken[phone]].setdefault(body, []).append((message_id, phone))
            taken[phone] += 1
    throttle = Throttle(services.redis, provider.name, config.segments_per_second)
    per_request = provider.recipients_per_request or config.bulk_batch_size
    # Each round's requests are sent in waves; calls (a row each) go with the first.
    requests_by_round: list[list[tuple[str | None, list[tuple[int, str]]]]] = [[(None, [call]) for call in calls]]
    for number, by_body in enumerate(rounds):
        if number > 0:
            requests_by_round.append([])
        for body, recipients in by_body.items():
            size = throttle.largest_batch(sms_size(body).segments, per_request)
            requests_by_round[-1] += [
                (body, recipients[start : start + size]) for start in range(0, len(recipients), size)
            ]

    def last_try(message_id: int) -> bool:
        return last_job_try or attempts[message_id] >= config.send_attempts

    def send(request) -> dict[int, SendOutcome]:
        body, recipients = request
        if body is None:
            return voice_calls.place(services, recipients)
        phones = [phone for _, phone in recipients]
        try:
            sent = provider.send(
                body, phones, ids=[outbox.client_id(m) for m, _ in recipients], urgent=replies, ttl=ttl
            )
        except ProviderError as exc:
            sent = outbox.failure_outcomes(exc, phones)
        return {message_id: outcome for (message_id, _), outcome in zip(recipients, sent, strict=True)}

    counts: Counter[str] = Counter()
    if settled_now:
        with database.session() as db:
            won = set(outbox.claim_many(db, list(settled_now), uuid.uuid4().hex))
        counts += _record(database, provider.name, {m: o for m, o in settled_now.items() if m in won}, last_try, job_id)
    # In waves of as many requests as may be in flight at once (personalised texts are
    # a request each): a wave's rows are claimed together just before it goes and
    # recorded together when it returns, so a crash leaves at most one wave unknown,
    # for two short transactions a wave rather than two a message.
    wave_size = max(1, config.send_concurrency)
    waves = [
        requests[start : start + wave_size]
        for requests in requests_by_round
        for start in range(0, len(requests), wave_size)
    ]
    # A member whose reply went back to the queue (refused for now) has her later
    # ones held back, still queued, so that the retry sends them after it, in order.
    held_back: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, min(wave_size, max(map(len, waves), default=1)))) as pool:
        for wave in waves:
            wave = [
                (body, [(m, phone) for m, phone in recipients if phone not in held_back]) for body, recipients in wave
            ]
            for body, recipients in wave:  # wait for the throttle while the rows are queued
                if body is not None and recipients:
                    throttle.take(sms_size(body).segments * len(recipients), wait=not replies)
            with database.session() as db:
                won = set(outbox.claim_many(db, [m for _, recipients in wave for m, _ in recipients], uuid.uuid4().hex))
            wave = [(body, [(m, phone) for m, phone in recipients if m in won]) for body, recipients in wave]
            outcomes: dict[int, SendOutcome] = {}
            for result in pool.map(send, [request for request in wave if request[1]]):
                outcomes.update(result)
            if outcomes:
                counts += _record(database, provider.name, outcomes, last_try, job_id)
                phone_of = {m: phone for _, recipients in wave for m, phone in recipients}
                held_back |= {
                    phone_of[message_id]
                    for message_id, outcome in outcomes.items()
                    if outbox.settle(outcome, last_try(message_id))[0] == MessageState.QUEUED
                }
    if counts.get("queued"):  # held-back rows only exist behind a queued one: the retry sends them
        raise TransientProviderError(f"{counts['queued']} of {len(message_ids)} will be retried")
    return dict(counts)


def _worth_sending_for(db, message_id: int) -> int | None:
    """Seconds a broadcast's text is still worth sending: a reminder, until its
    session starts (a phone that was off must not send it afterwards)."""
    starts_at = db.scalar(
        select(TrainingSession.starts_at)
        .join(Broadcast, Broadcast.session_id == TrainingSession.id)
        .join(OutboundMessage, OutboundMessage.broadcast_id == Broadcast.id)
        .where(OutboundMessage.id == message_id)
    )
    if starts_at is None:
        return None
    return max(60, int((starts_at - utcnow()).total_seconds()))


def _record(
    database, provider_name: str, outcomes: dict[int, SendOutcome | None], last_try, job_id: str | None
) -> Counter[str]:
    """Write each claimed row's outcome (None: its broadcast was cancelled) in one
    bulk UPDATE. A row going back to the queue stays this job's, for its retry."""
    now = utcnow()
    rows, opted_out, counts = [], [], Counter()
    for message_id, outcome in outcomes.items():
        status, error = (
            (MessageState.CANCELLED, None) if outcome is None else outbox.settle(outcome, last_try(message_id))
        )
        counts[status] += 1
        accepted = outcome is not None and outcome.accepted
        rows.append(
            {
                "id": message_id,
                "status": status,
                "provider": provider_name,
                "provider_message_id": outcome.provider_message_id if accepted else None,
                "error": error,
                "claim": None,
                "updated_at": now,
                "job_id": job_id if status == MessageState.QUEUED else None,
            }
        )
        if outcome is not None and outcome.opted_out:
            opted_out.append(message_id)
    with database.session() as db:
        if rows:
            db.execute(update(OutboundMessage), rows)  # bulk UPDATE by primary key
        if opted_out:
            db.execute(
                update(Member)
                .where(
                    Member.id.in_(db.query(OutboundMessage.member_id).filter(OutboundMessage.id.in_(opted_out))),
                    Member.opted_out_at.is_(None),
                )
                .values(opted_out_at=now)
            )
    return counts
