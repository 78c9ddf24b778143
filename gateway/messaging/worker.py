"""The RQ worker, with its scheduler, on the gateway's queues (highest priority first).

The services are built once here, in the worker's parent process, from
``gateway.services``: no web app. RQ forks a child per job, and the child inherits
them instead of loading flows, catalogs and providers again for every message.
The parent also runs the reconciler every minute, so it holds database
connections: each forked child drops the pool it inherited
(``dispose(close=False)``), as SQLAlchemy advises, and opens its own.
"""

from __future__ import annotations

import logging
import os
import threading

from rq import Queue, Worker

from gateway import broker, services
from gateway.messaging import reconciler

log = logging.getLogger(__name__)
RECONCILE_EVERY_S = 60


def _reconcile_forever(gateway: services.Services, stop: threading.Event) -> None:
    while not stop.wait(RECONCILE_EVERY_S):
        try:
            reconciler.reconcile(gateway)
        except Exception:  # a bad minute must not stop the next one
            log.exception("reconciler failed")


def run(burst: bool = False) -> None:
    gateway = services.Services.build()
    services.setup_logging(gateway.config)
    services.bind(gateway)
    engine = gateway.db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_reconcile_forever, args=(gateway, stop), daemon=True,
                         name="reconciler").start()
    connection = broker.connect(gateway.redis_url)
    queues = [Queue(name, connection=connection, job_class=broker.Job) for name in broker.QUEUES]
    try:
        Worker(queues, connection=connection, job_class=broker.Job).work(
            with_scheduler=True, burst=burst)
    finally:
        stop.set()


if __name__ == "__main__":
    run()
