"""The RQ worker, with its scheduler, on the gateway's queues (highest priority first)."""

from __future__ import annotations

import logging

from rq import Queue, Worker

from . import broker
from .app import load_config


def run(burst: bool = False) -> None:
    config = load_config()
    url = config.redis_url or broker.embedded_redis_url(config.instance_path)
    logging.basicConfig(level=logging.INFO)
    connection = broker.connect(url)
    queues = [Queue(name, connection=connection) for name in broker.QUEUES]
    worker = Worker(queues, connection=connection)
    worker.work(with_scheduler=True, burst=burst)


if __name__ == "__main__":
    run()
