"""RQ jobs: the entry points a worker runs. Arguments are row ids, never phone
numbers (they would sit in Redis).

Each job runs against its process's services (``gateway.services.current()``): the
worker builds them once in its parent, and every forked job inherits them, so
nothing is reconnected per message and no job builds the web app. The work itself
lives in the module that owns it (``bulk``, ``calls``, ``reminders``); jobs are
queued by path (``gateway.broker.enqueue``), so nothing imports this module and
it may import them all.
"""

from __future__ import annotations

import logging

from rq import get_current_job

from gateway.encoding import sms_size
from gateway.errors import ProviderError, TransientProviderError
from gateway.messaging import bulk, calls, outbox, reminders, replies
from gateway.messaging.throttle import Throttle
from gateway.phone import mask
from gateway.services import current
from gateway.store.models import Member
from gateway.store.states import MessageState

log = logging.getLogger(__name__)


def send_message(message_id: int) -> str:
    """Claim one outbox row (a conversational reply), send it, record the outcome."""
    services = current()
    database, provider = services.db, services.provider
    with database.session() as db:
        row = outbox.claim(db, message_id)
        if row is None:
            return "not claimed (already sent, sending or cancelled)"
        member = db.get(Member, row.member_id)
        if member is None or member.phone is None:
            row.status, row.error = MessageState.FAILED, "member erased"
            return MessageState.FAILED
        if row.kind == "bulk" and member.opted_out_at is not None:
            row.status, row.error = MessageState.FAILED, "opted out"
            return MessageState.FAILED
        phone, body, attempts = member.phone, row.body, row.attempts
    # Counted so bulk sends yield to it; a reply to a member never waits.
    Throttle(services.redis, provider.name, services.config.segments_per_second).take(
        sms_size(body).segments, wait=False
    )
    try:
        [outcome] = provider.send(body, [phone], ids=[outbox.client_id(message_id)], urgent=True)
    except ProviderError as exc:
        [outcome] = outbox.failure_outcomes(exc, [phone])
    job = get_current_job()
    last_try = job is None or not job.retries_left or attempts >= services.config.send_attempts
    with database.session() as db:
        status = outbox.record(db, message_id, provider.name, outcome, last_try=last_try)
    log.info("message %s to %s: %s", message_id, mask(phone), status)
    if status == MessageState.QUEUED:  # transient: let RQ retry with backoff
        raise TransientProviderError(f"message {message_id}: {outcome.error}")
    return status


def send_batch(message_ids: list[int]) -> dict:
    """Send a batch of a broadcast's rows (see ``bulk.send_batch``)."""
    return bulk.send_batch(current(), message_ids)


def prepare_broadcast(broadcast_id: int, not_before: str | None, urgent: bool) -> str:
    """Write a large broadcast's outbox rows and queue its batches (``bulk.dispatch``),
    for the dashboard's Send button: at a million members it takes most of a
    minute, longer than a web request may. A blank found meanwhile (a member's
    name gone since the preview) leaves it a draft, nothing of it written."""
    from datetime import datetime

    from gateway.errors import InputProblem

    when = datetime.fromisoformat(not_before) if not_before else None
    try:
        added, batches, _ = bulk.dispatch(current(), broadcast_id, not_before=when, urgent=urgent)
    except InputProblem as problem:
        log.warning("broadcast %s not sent: %s", broadcast_id, problem)
        return f"not sent: {problem}"
    return f"{added} message(s) in {batches} batch(es)"


def send_replies(message_ids: list[int]) -> dict:
    """Send the replies to a batch of inbound texts (see ``channels/sms/inbox.py``)."""
    return replies.send_now(current(), message_ids)


def call_again(message_id: int) -> str:
    """A call that was not answered goes back in the queue and is placed again."""
    services = current()
    if not calls.requeue(services, message_id):
        return "not waiting (cancelled, or already called again)"
    return str(bulk.send_batch(services, [message_id]))


def call_back(member_id: int) -> str:
    """Call a member back after her missed call: one outbox row, placed like any call."""
    services = current()
    return str(bulk.send_batch(services, [calls.callback_row(services, member_id)]))


def fire_reminder(reminder_id: int) -> str:
    """Send one session reminder, once (see ``reminders.fire``)."""
    return reminders.fire(current(), reminder_id)


def save_recording(provider_name: str, url: str, lang: str, key: str, text: str, by: str) -> str:
    """Fetch a prompt recorded by phone from the provider, convert it, keep it.
    While the provider is not ready (Twilio can answer 404 for a moment) the job
    fails transient and RQ tries again; a recording that cannot be used is logged."""
    from gateway.content.audio import convert
    from gateway.content.recordings import Recordings
    from gateway.errors import InputProblem, PermanentProviderError
    from gateway.providers import get_provider

    services = current()
    config = services.config
    provider = get_provider(provider_name, config)
    if not provider.makes_recordings:
        return f"{provider_name} makes no recordings"
    try:
        clip = convert(provider.fetch_recording(url))
    except (InputProblem, PermanentProviderError) as exc:
        log.warning("recording of %s/%s by phone not kept: %s", lang, key, exc)
        return f"not kept: {exc}"
    Recordings(services.db, config.prompts_dir / "audio").save(
        lang, key, clip.wav, text=text, by=by, source="phone", seconds=clip.seconds
    )
    log.info("recording of %s/%s by phone kept (%.1f s)", lang, key, clip.seconds)
    return "kept"
