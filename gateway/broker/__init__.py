"""Redis: where work waits. One module per noun: ``server`` (the embedded server and
connections), ``jobs`` (the RQ queues, job names and ids, queueing; its ``SEND_RETRY``), ``liveness``
(workers alive, a job that will still run) and ``erasure`` (a member erased from
Redis). Their names are gathered here, as callers use them.
"""

from gateway.broker.erasure import forget, forget_member
from gateway.broker.liveness import is_alive, workers_alive
from gateway.broker import jobs
from gateway.broker.jobs import (
    JOBS_MODULE,
    QUEUES,
    batch_job_id,
    enqueue,
    enqueue_reply,
    job,
    message_job_id,
    queues,
    replies_job_id,
)
from gateway.broker.server import connect, embedded_redis_url, stop_embedded

__all__ = [
    "JOBS_MODULE",
    "QUEUES",
    "batch_job_id",
    "connect",
    "embedded_redis_url",
    "enqueue",
    "enqueue_reply",
    "forget",
    "forget_member",
    "is_alive",
    "job",
    "jobs",
    "message_job_id",
    "queues",
    "replies_job_id",
    "stop_embedded",
    "workers_alive",
]
