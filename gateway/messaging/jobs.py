"""RQ jobs. Arguments are row ids, never phone numbers (they would sit in Redis).

Jobs build the app once per worker process; the worker forks per job, so the
parent's app is inherited and nothing is reconnected per message.
"""

from __future__ import annotations

import logging

from rq import Retry, get_current_job

from gateway.encoding import sms_size
from gateway.errors import PermanentProviderError, TransientProviderError
from gateway.messaging.throttle import Throttle
from gateway.phone import mask
from gateway.providers.base import SendOutcome

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
        from gateway import create_app

        _app = create_app()
    return _app


def enqueue_send(queues, message_id: int, *, result_ttl: int = 3600,
                 failure_ttl: int = 6 * 3600) -> None:
    """Queue a conversational reply; replies are served before bulk."""
    queues["replies"].enqueue(send_message, message_id, retry=SEND_RETRY, result_ttl=result_ttl,
                  failure_ttl=failure_ttl)


def enqueue_call_back(gateway, member_id: int) -> None:
    """Call a member back after her missed call: soon, once her line is free again."""
    from datetime import timedelta

    from gateway.messaging.calls import call_back

    config = gateway.config["GATEWAY"]
    gateway.extensions["queues"]["replies"].enqueue_in(timedelta(seconds=10), call_back, member_id,
                                                      result_ttl=config.job_result_ttl,
                                                      failure_ttl=config.job_failure_ttl)


def send_message(message_id: int) -> str:
    """Claim one outbox row, send it, record the outcome."""
    from gateway.messaging import outbox
    from gateway.store.models import Member

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
    with database.session() as db:
        status = outbox.record(db, message_id, provider.name, outcome,
                               last_try=job is None or not job.retries_left)
    log.info("message %s to %s: %s", message_id, mask(phone), status)
    if status == "queued":  # transient: let RQ retry with backoff
        raise TransientProviderError(f"message {message_id}: {outcome.error}")
    return status
