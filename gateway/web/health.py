"""``GET /healthz``: what a monitor, or ``outreach up``'s operator, needs to know.

- ``ok`` (200): the database and Redis answer, and a worker is there to send.
- ``degraded`` (200): webhooks work and everything they accept is kept, but no
  worker is alive (it is being restarted, or none was started): replies and
  broadcasts wait. Workers are counted from RQ's own registry in Redis, so this
  holds wherever they run, under ``outreach up`` or systemd.
- ``down`` (503): the database or Redis does not answer.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from rq import Worker

from gateway.broker import QUEUES

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def _workers() -> int:
    redis = current_app.extensions["redis"]
    return sum(1 for worker in Worker.all(connection=redis)
               if set(worker.queue_names()) & set(QUEUES))


@bp.get("/healthz")
def healthz():
    checks = {}
    for name, probe in (("database", lambda: current_app.extensions["db"].ping()),
                        ("redis", lambda: current_app.extensions["redis"].ping())):
        try:
            checks[name] = "ok" if probe() else "down"
        except Exception as exc:  # a health check reports; it never raises
            log.warning("health check %s failed: %s", name, type(exc).__name__)
            checks[name] = "down"
    if any(value != "ok" for value in checks.values()):
        return jsonify(status="down", workers=None, **checks), 503
    try:
        workers = _workers()
    except Exception as exc:
        log.warning("health check workers failed: %s", type(exc).__name__)
        workers = 0
    return jsonify(status="ok" if workers else "degraded", workers=workers, **checks), 200
