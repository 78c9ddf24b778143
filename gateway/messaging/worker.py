"""The RQ worker, with its scheduler, on the gateway's queues (highest priority first).

The app is built once here, in the worker's parent process. RQ forks a child per
job, and the child inherits the built app instead of loading flows, catalogs and
providers again for every message. The parent also runs the reconciler every
minute, so it holds database connections: each forked child drops the pool it
inherited (``dispose(close=False)``), as SQLAlchemy advises, and opens its own.
"""

from __future__ import annotations

import logging
import os
import threading

from rq import Queue, Worker

from gateway import broker
from gateway.messaging import jobs as tasks
from gateway.messaging import reconciler

log = logging.getLogger(__name__)
RECONCILE_EVERY_S = 60


def _reconcile_forever(app, stop: threading.Event) -> None:
    while not stop.wait(RECONCILE_EVERY_S):
        try:
            reconciler.reconcile(app)
        except Exception:  # a bad minute must not stop the next one
            log.exception("reconciler failed")


def run(burst: bool = False) -> None:
    from gateway import create_app

    app = create_app()
    tasks.bind(app)
    engine = app.extensions["db"].engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_reconcile_forever, args=(app, stop), daemon=True,
                         name="reconciler").start()
    connection = broker.connect(app.extensions["redis_url"])
    queues = [Queue(name, connection=connection) for name in broker.QUEUES]
    try:
        Worker(queues, connection=connection).work(with_scheduler=True, burst=burst)
    finally:
        stop.set()


if __name__ == "__main__":
    run()
