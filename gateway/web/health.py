"""``GET /healthz``: 200 when the database and Redis both answer, else 503."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


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
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503
