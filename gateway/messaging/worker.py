"""The RQ worker, with its scheduler, on the gateway's queues (highest priority first).

The services are built once here, in the worker's parent process, from
``gateway.services``: no web app. RQ forks a child per job, and the child inherits
them instead of loading flows, catalogs and providers again for every message.
The parent also runs the reconciler every minute, so it holds database
connections: each forked child drops the pool it inherited
(``dispose(close=False)``), as SQLAlchemy advises, and opens its own.

Two things RQ does not do on its own:

- **Survive Redis.** RQ retries a lost connection only while it waits for a job;
  one lost anywhere else (a heartbeat, a job's bookkeeping) makes it quit. Here it
  waits for Redis with backoff and starts working again, so a Redis restart does
  not stop sending.
- **Take its children with it.** Every child it forks (a job's work-horse, the
  scheduler, the inbox drainer) asks the kernel for SIGTERM when the parent dies,
  so a worker killed with SIGKILL leaves no orphan behind.

``outreach worker`` also hands it the inbox drainer (``channels/sms/inbox.py``),
which it runs in a forked process of its own and restarts if it dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from typing import Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker

from gateway import broker, services
from gateway.logs import setup_logging
from gateway.content.library import CHECK_EVERY_S
from gateway.messaging import reconciler

log = logging.getLogger(__name__)


class _Worker(Worker):
    """RQ's worker, which remembers that it was asked to stop (SIGTERM or SIGINT,
    idle or busy) through RQ's public warm-shutdown hook, so that the loop below
    tells a requested stop from RQ quitting on a Redis error."""

    stop_requested = False

    def handle_warm_shutdown_request(self):
        self.stop_requested = True
        super().handle_warm_shutdown_request()


# RQ beats every WORKER_TTL_S - 15 s while idle, and every JOB_BEAT_S while a job
# runs (its default, 30 s, also stretched the registration to 90 s, so a worker
# killed mid-job looked alive for a minute and a half); /healthz counts a worker
# alive while its last beat is recent (``broker.liveness.BEAT_STALE_S``).
WORKER_TTL_S = 30
JOB_BEAT_S = 10
REDIS_WAIT_MAX_S = 30
PR_SET_PDEATHSIG = 1
COMPANION_STOP_S = 10  # a drainer finishing its batch, before it is killed


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor still restarts workers
        pass


def _reconcile_forever(gateway: services.Services, stop: threading.Event) -> None:
    while not stop.wait(gateway.config.reconcile_every):
        try:
            reconciler.reconcile(gateway)
        except Exception:  # a bad minute must not stop the next one
            log.exception("reconciler failed")


def _keep_content_current(gateway: services.Services, stop: threading.Event) -> None:
    """Keep the parent's published edition current: every job is forked from the
    parent and inherits what it has built, so after a publish the parent builds the
    new version once, not each job (a build is about 0.1 s)."""
    while not stop.wait(CHECK_EVERY_S):
        try:
            gateway.library.current()
        except Exception:  # an outage; the jobs find out for themselves
            log.debug("content check failed", exc_info=True)


def _wait_for_redis(gateway: services.Services) -> None:
    delay = 1.0
    while True:
        try:
            gateway.redis.ping()
            return
        except (RedisConnectionError, RedisTimeoutError, OSError):
            log.warning("worker: Redis is unreachable; trying again in %.0f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, REDIS_WAIT_MAX_S)


def _leave(*_) -> None:
    raise SystemExit(0)


def _companion(
    gateway: services.Services,
    work: Callable[[services.Services, threading.Event], None],
    name: str,
    stop: threading.Event,
    running: list[int],
) -> None:
    """Run ``work`` in a child process forked from this one, and again if it dies,
    until ``stop``. Forked, it shares the services' pages with this process
    instead of loading flows and catalogs again; a process of its own, it gets a
    core's share of its own and no thread of it is ever inside a fork. The child's
    pid is kept in ``running``, for ``_stop_companion``."""
    while not stop.is_set():
        pid = os.fork()
        if pid == 0:  # the child: the work until SIGTERM (or this process dies)
            code = 0
            try:
                # Not Event.set in a handler: it would deadlock on the Event's own lock
                # if the signal came while the loop was inside Event.wait. Leaving by
                # SystemExit rolls back whatever batch was open; it is processed again.
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, _leave)
                work(gateway, threading.Event())
            except SystemExit:
                pass
            except BaseException:
                log.exception("%s stopped", name)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        running[:] = [pid]
        _, status = os.waitpid(pid, 0)
        running.clear()
        if stop.is_set():
            return
        log.warning("%s exited (status %s); starting it again in 1 s", name, status)
        stop.wait(1)


def _stop_companion(thread: threading.Thread, running: list[int]) -> None:
    """Stop the companion and wait for it, so that a stopped worker leaves no child
    behind (``outreach up`` stops the embedded Redis once its children are gone)."""
    # SIGTERM lets it finish its batch; one still there after that is killed.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in list(running):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        thread.join(timeout=COMPANION_STOP_S)


def run(burst: bool = False, companion: Callable[[services.Services, threading.Event], None] | None = None) -> None:
    """The RQ worker. ``companion`` (the inbox drainer, from ``outreach worker``)
    runs beside it in a forked process, unless ``burst``."""
    gateway = services.Services.build()
    setup_logging(gateway.config)
    services.bind(gateway)
    gateway.library.prepare()  # built once here, inherited by every forked job
    engine = gateway.db.engine

    def in_child():
        engine.dispose(close=False)
        _die_with_parent()

    os.register_at_fork(after_in_child=in_child)
    stop = threading.Event()
    companion_thread, running = None, []
    if companion is not None and not burst:
        # Forked before the reconciler's thread exists; a restart forks from this thread.
        companion_thread = threading.Thread(
            target=_companion, daemon=True, name="companion", args=(gateway, companion, "inbox drainer", stop, running)
        )
        companion_thread.start()
    if not burst:
        threading.Thread(target=_reconcile_forever, args=(gateway, stop), daemon=True, name="reconciler").start()
        threading.Thread(target=_keep_content_current, args=(gateway, stop), daemon=True, name="content").start()
    try:
        while True:
            _wait_for_redis(gateway)
            connection = broker.connect(gateway.redis_url)
            worker = _Worker(
                list(broker.queues(connection).values()),
                connection=connection,
                worker_ttl=WORKER_TTL_S,
                job_monitoring_interval=JOB_BEAT_S,
            )
            try:
                worker.work(with_scheduler=True, burst=burst)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("worker: lost Redis (%s); reconnecting", type(exc).__name__)
                continue
            if burst or worker.stop_requested:
                return
            # RQ quit on its own: a Redis error outside the dequeue loop. Go again.
            log.warning("worker: stopped unexpectedly; reconnecting")
            time.sleep(1)
    finally:
        stop.set()
        if companion_thread is not None:
            _stop_companion(companion_thread, running)
