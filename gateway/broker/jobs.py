"""The RQ queues, and the names of the jobs queued on them.

Jobs are queued by path (``job("send_batch")``), not by function object: the
module that queues work then need not import the module that does it. The paths
are what Redis stores; ``gateway.messaging.jobs`` keeps them stable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis import Redis
from rq import Queue, Retry

from gateway.broker.liveness import QUEUES, is_alive

JOBS_MODULE = "gateway.messaging.jobs"
# Transient failures retry with backoff: 10 s, 1 min, 5 min, 15 min, 1 h.
SEND_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])


def job(name: str) -> str:
    """The path Redis stores for one of ``gateway.messaging.jobs``."""
    return f"{JOBS_MODULE}.{name}"


def queues(redis: Redis) -> dict[str, Queue]:
    return {name: Queue(name, connection=redis) for name in QUEUES}


def enqueue(
    queue: Queue,
    name: str,
    *args,
    config,
    at: datetime | None = None,
    delay: timedelta | None = None,
    retry: Retry | None = None,
    job_id: str | None = None,
):
    """Queue ``gateway.messaging.jobs.<name>(*args)``, now, ``at`` a time or after
    ``delay``, with the configured (short) result and failure TTLs. With a
    ``job_id``, nothing is queued while a job of that id is still alive, so the
    reconciler can ask again every minute without multiplying jobs."""
    if job_id is not None and is_alive(queue.connection, job_id, timedelta(seconds=config.job_stale_after)):
        return None
    options = dict(retry=retry, result_ttl=config.job_result_ttl, failure_ttl=config.job_failure_ttl, job_id=job_id)
    if at is not None:
        return queue.enqueue_at(at, job(name), *args, **options)
    if delay is not None:
        return queue.enqueue_in(delay, job(name), *args, **options)
    return queue.enqueue(job(name), *args, **options)


def enqueue_reply(queues: dict[str, Queue], message_id: int, config):
    """Queue one conversational text (an outbox row) for the worker, ahead of bulk.
    Its job id is the row's, so asking twice queues it once."""
    return enqueue(
        queues["replies"],
        "send_message",
        message_id,
        config=config,
        retry=SEND_RETRY,
        job_id=message_job_id(message_id),
    )


def batch_job_id(broadcast_id: int, first_row: int) -> str:
    return f"batch-{broadcast_id}-{first_row}"


def replies_job_id(first_message_id: int) -> str:
    return f"replies-{first_message_id}"


def message_job_id(message_id: int) -> str:
    return f"message-{message_id}"
