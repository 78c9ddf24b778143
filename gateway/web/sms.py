"""Inbound SMS: ``POST /sms/africastalking`` and ``POST /sms/twilio``.

Replies are not sent from here: they are queued for the worker, so the provider
gets its 200 at once. Twilio gets an empty TwiML ``<Response/>``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from gateway.web.auth import africastalking_ok, twilio_ok

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _receive(provider: str) -> None:
    try:
        inbound = current_app.extensions["parsers"][provider].parse_inbound(request.form)
        if inbound is not None:
            current_app.extensions["sms"].receive(inbound)
    except Exception:
        # The provider would only retry; the error is ours to fix. No form in the log.
        log.exception("inbound sms via %s failed", provider)


@bp.post("/sms/africastalking")
def africastalking():
    if not africastalking_ok():
        return Response("Forbidden", 403, mimetype="text/plain")
    _receive("africastalking")
    return Response("", 200, mimetype="text/plain")


@bp.post("/sms/twilio")
def twilio():
    if not twilio_ok():
        return Response(EMPTY_TWIML, 403, mimetype="text/xml")
    _receive("twilio")
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")
