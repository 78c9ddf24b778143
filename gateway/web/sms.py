"""Inbound SMS: ``POST /sms/africastalking`` and ``POST /sms/twilio``.

Replies are not sent from here: they are queued for the worker, so the provider
gets its answer at once. Twilio gets an empty TwiML ``<Response/>``.

A 2xx means the text is durable: processed into the database, or, while the
database or Redis is down, in the inbound spool (``channels/sms/spool.py``). Only
when neither works does the provider get a 503, so that it tries again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from gateway.services import is_outage
from gateway.web.auth import africastalking_ok, twilio_ok

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _receive(provider: str) -> bool:
    """Process (or spool) the inbound text; False if it could not be made durable."""
    try:
        inbound = current_app.extensions["parsers"][provider].parse_inbound(request.form)
    except Exception:
        log.exception("unreadable inbound sms via %s", provider)  # nothing to keep
        return True
    if inbound is None:
        return True
    sms, spool = current_app.extensions["sms"], current_app.extensions["spool"]
    try:
        sms.receive(inbound)
    except Exception as exc:
        if not is_outage(exc):  # a bug: the provider would only retry it. No form in the log.
            log.exception("inbound sms via %s failed", provider)
            return True
        log.warning("inbound sms via %s spooled: %s unreachable", provider, type(exc).__name__)
        try:
            spool.add(inbound)
        except OSError:
            log.exception("inbound sms via %s could not be spooled either", provider)
            return False
    spool.watch(sms.receive)  # started on the first text, in each web process
    return True


@bp.post("/sms/africastalking")
def africastalking():
    if not africastalking_ok():
        return Response("Forbidden", 403, mimetype="text/plain")
    if not _receive("africastalking"):
        return Response("Try again later", 503, mimetype="text/plain")
    return Response("", 200, mimetype="text/plain")


@bp.post("/sms/twilio")
def twilio():
    if not twilio_ok():
        return Response(EMPTY_TWIML, 403, mimetype="text/xml")
    if not _receive("twilio"):
        return Response(EMPTY_TWIML, 503, mimetype="text/xml")
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")
