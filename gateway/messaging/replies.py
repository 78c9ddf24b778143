"""Replies sent by the process that wrote them, without a job per batch.

The inbox drainer writes the replies to a batch of texts as outbox rows; queueing
an RQ job for each batch cost a fork of the worker per batch, and under a flood of
texts those forks took more CPU than the texts themselves. So the drainer hands
the rows' ids to a ``ReplySender``: one thread that sends whatever has gathered
(up to ``MOST`` rows at a time) through ``bulk.send_batch``, which claims each row
before sending it, so nothing is sent twice.

What it does not finish goes to RQ, which retries with backoff: rows a provider
refused for now (``TransientProviderError``) are queued as a ``send_replies`` job.
If even that fails, or the process dies with ids in hand, the rows are still
``queued`` in the outbox, and the reconciler queues them after half a minute.
"""

from __future__ import annotations

import logging
import queue
import threading

from gateway import broker
from gateway.errors import TransientProviderError
from gateway.messaging import bulk
from gateway.outage import is_outage
from gateway.services import Services

log = logging.getLogger(__name__)
MOST = 500


def send_now(services: Services, message_ids: list[int], retry_later: bool = False) -> dict:
    """Send reply rows (``bulk.send_batch`` with ``replies``); log what became of them."""
    try:
        counts = bulk.send_batch(services, message_ids, replies=True, retry_later=retry_later)
    except TransientProviderError as exc:
        log.info("replies: %d message(s) from %s: %s", len(message_ids), message_ids[0], exc)
        raise
    log.info("replies: %d message(s) from %s: %s", len(message_ids), message_ids[0], counts)
    return counts


def queue_job(services: Services, message_ids: list[int]) -> None:
    """Queue reply rows as one ``send_replies`` job, which RQ retries with backoff.
    If Redis cannot take it, the rows stay ``queued`` in the outbox and the
    reconciler queues them (``stranded_replies``); nothing is raised."""
    if not message_ids:
        return
    try:
        broker.enqueue(
            services.queues["replies"],
            "send_replies",
            message_ids,
            config=services.config,
            retry=broker.jobs.SEND_RETRY,
            job_id=broker.replies_job_id(message_ids[0]),
        )
    except Exception as exc:
        if is_outage(exc):
            log.warning("replies: %d message(s) left for the reconciler: Redis unreachable", len(message_ids))
        else:
            log.exception("replies: %d message(s) left for the reconciler", len(message_ids))


class ReplySender:
    def __init__(self, services: Services):
        self.services = services
        self.waiting: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def send(self, message_ids: list[int]) -> None:
        """Hand over reply rows (already committed as ``queued``) to be sent soon."""
        if not message_ids:
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="reply-sender", daemon=True)
            self._thread.start()
        self.waiting.put(message_ids)

    def _run(self) -> None:
        while True:
            message_ids = self.waiting.get()
            while len(message_ids) < MOST:  # whatever else gathered meanwhile goes along
                try:
                    message_ids = message_ids + self.waiting.get_nowait()
                except queue.Empty:
                    break
            self._send(message_ids)

    def _send(self, message_ids: list[int]) -> None:
        try:
            send_now(self.services, message_ids, retry_later=True)
        except TransientProviderError:  # RQ retries them, with backoff
            queue_job(self.services, message_ids)
        except Exception:  # the rows stay queued: the reconciler queues them
            log.exception("replies: %d message(s) left for the reconciler", len(message_ids))
