"""The RQ worker, with its scheduler, on the gateway's queues (highest priority first).

The app is built once here, in the worker's parent process. RQ forks a child per
job, and the child inherits the built app instead of loading flows, catalogs and
providers again for every message. The parent opens no database connection
itself, so no pooled connection is shared across the fork; redis-py notices the
new pid and reconnects on its own.
"""

from __future__ import annotations

import logging

from rq import Queue, Worker

from . import broker, tasks


def run(burst: bool = False) -> None:
    from . import create_app

    app = create_app()
    tasks.bind(app)
    url = app.extensions["redis_url"]
    logging.getLogger("rq.worker").setLevel(logging.INFO)
    connection = broker.connect(url)
    queues = [Queue(name, connection=connection) for name in broker.QUEUES]
    worker = Worker(queues, connection=connection)
    worker.work(with_scheduler=True, burst=burst)


if __name__ == "__main__":
    run()
