"""Whether work will still be done: workers alive, and a job that will still run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

# The gateway's queues, the order its workers serve them in: replies before bulk sends.
QUEUES = ("replies", "default", "bulk")


# A worker beats at least every 15 s (``messaging/worker.py``); one silent this long
# is dead, though RQ's registry may keep it for up to 90 s.
BEAT_STALE_S = 25


def workers_alive(redis: Redis) -> int:
    """RQ workers on the gateway's queues that beat within ``BEAT_STALE_S``, from
    RQ's own registry in Redis (so wherever they run)."""
    from rq import Worker

    recent = datetime.now(timezone.utc) - timedelta(seconds=BEAT_STALE_S)
    return sum(
        1
        for worker in Worker.all(connection=redis)
        if set(worker.queue_names()) & set(QUEUES) and _aware(worker.last_heartbeat or worker.birth_date) > recent
    )


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
