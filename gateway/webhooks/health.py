"""``GET /healthz``: what a monitor, or ``outreach up``'s operator, needs to know.

- ``ok`` (200): the database and Redis answer, and a worker is there to send.
- ``degraded`` (200): webhooks work and everything they accept is kept, but no
  worker is alive (it is being restarted, or none was started), or every Android
  phone is resting: replies and broadcasts wait. With Android phones, ``phones``
  says which are in the rotation. Workers are counted from RQ's own registry in Redis, so this
  holds wherever they run, under ``outreach up`` or systemd.
- ``down`` (503): the database or Redis does not answer.

``inbox`` counts the texts accepted and not yet processed, and how long the
oldest has waited (a warning past 10 s). ``spool`` does the same for this host's
outage spool: texts accepted while the database was down, drained every 10 s
once it answers (a warning while any wait).

Anyone may ask, so without a dashboard sign-in the answer holds counts only: the
Android phones are counted, not named (their names are ``host:port`` on the network). ``voice`` counts the recorded prompts
per language; ``warnings`` says so while the
default language (Lao) is not all recorded (those screens are played in English).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from gateway.broker import workers_alive
from gateway.content.prompt_audit import audit, coverage, coverage_warning
from gateway.runtime import runtime

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
INBOX_LATE_S = 10  # a text waiting longer is answered late: worth a warning


@bp.get("/healthz")
def healthz():
    checks = {}
    for name, probe in (("database", lambda: runtime().db.ping()), ("redis", lambda: runtime().redis.ping())):
        try:
            checks[name] = "ok" if probe() else "down"
        except Exception as exc:  # a health check reports; it never raises
            log.warning("health check %s failed: %s", name, type(exc).__name__)
            checks[name] = "down"
    if any(value != "ok" for value in checks.values()):
        return jsonify(status="down", workers=None, **checks, spool=_spool()), 503
    try:
        workers = workers_alive(runtime().redis)
    except Exception as exc:
        log.warning("health check workers failed: %s", type(exc).__name__)
        workers = 0
    phones = _phones()
    degraded = not workers or (phones is not None and not any(p["in_rotation"] for p in phones))
    extra = {}
    if phones is not None:
        extra["phones"] = (
            phones
            if _signed_in()
            else {"in_rotation": sum(1 for p in phones if p["in_rotation"]), "total": len(phones)}
        )
    voice, warnings = _voice()
    inbox, spool = _inbox(), _spool()
    if inbox.get("oldest_s") is not None and inbox["oldest_s"] > INBOX_LATE_S:
        warnings.append(f"inbox: {inbox['waiting']} text(s) waiting, the oldest for {inbox['oldest_s']:.0f} s")
    if spool.get("waiting"):
        warnings.append(
            f"spool: {spool['waiting']} text(s) kept through an outage, the oldest for {spool['oldest_s']:.0f} s"
        )
    return jsonify(
        status="degraded" if degraded else "ok",
        workers=workers,
        **checks,
        **extra,
        inbox=inbox,
        spool=spool,
        voice=voice,
        warnings=warnings,
    ), 200


def _signed_in() -> bool:
    from gateway.dashboard.auth import current_user

    try:
        return current_user() is not None
    except Exception as exc:  # no database: counts only
        log.warning("health check sign-in failed: %s", type(exc).__name__)
        return False


def _inbox() -> dict:
    """Texts accepted and not yet processed. A backlog that grows means the drainer
    cannot keep up (or is stuck); replies are late, nothing is lost."""
    try:
        waiting, oldest = runtime().inbox.pending()
    except Exception as exc:
        log.warning("health check inbox failed: %s", type(exc).__name__)
        return {}
    return {"waiting": waiting, "oldest_s": round(oldest, 1) if oldest is not None else None}


def _spool() -> dict:
    """This host's outage spool (it needs neither the database nor Redis to read)."""
    try:
        waiting, oldest = runtime().spool.depth()
    except OSError as exc:
        log.warning("health check spool failed: %s", type(exc).__name__)
        return {}
    return {"waiting": waiting, "oldest_s": round(oldest, 1) if oldest is not None else None}


def _voice() -> tuple[dict, list[str]]:
    """Recorded prompts per language. Less than all of the default language is a
    warning, not a degradation: calls still work, those screens are in English."""
    try:
        result = audit(runtime().services.book, runtime().services.catalog, runtime().audio)
    except Exception as exc:
        log.warning("health check voice failed: %s", type(exc).__name__)
        return {}, []
    voice = {lang: {"recorded": recorded, "needed": needed} for lang, (recorded, needed) in coverage(result).items()}
    warning = coverage_warning(result, current_app.config["GATEWAY"].default_language)
    return voice, [warning] if warning else []


def _phones() -> list[dict] | None:
    """The Android phones (SMS_PROVIDER=android): which are sending, and why others rest.
    Every phone resting means nothing goes out: degraded."""
    try:
        return runtime().provider.sender_health()
    except Exception as exc:
        log.warning("health check phones failed: %s", type(exc).__name__)
        return None
