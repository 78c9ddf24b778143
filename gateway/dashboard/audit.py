"""The audit log, for admins: who signed in, sent, edited, cancelled or erased what."""

from __future__ import annotations

from flask import current_app, render_template

from gateway.dashboard.auth import bp, needs
from gateway.store import audit as audit_log


@bp.get("/audit", endpoint="audit")
@needs("manage")
def show():
    with current_app.extensions["db"].session() as db:
        events = [(e.at, e.actor, e.action, e.subject, e.detail) for e in audit_log.recent(db, 200)]
    return render_template("dashboard/audit.html", events=events)
