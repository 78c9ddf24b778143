"""``POST /ussd/africastalking``: Africa's Talking USSD callback.

Whatever arrives, the telco gets a ``text/plain`` body starting ``CON `` or
``END ``: a stack trace or an HTTP 500 would end the member's session with a
network error instead of a message she can read.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from gateway.channels.ussd.pages import reply
from gateway.channels.ussd.service import UssdHop
from gateway.web.auth import africastalking_ok

bp = Blueprint("ussd", __name__)
log = logging.getLogger(__name__)

# Longer than any real session's accumulated text; larger bodies are not parsed.
MAX_FORM_BYTES = 64 * 1024


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.post("/ussd/africastalking")
def africastalking():
    service = current_app.extensions["ussd"]
    if not africastalking_ok():
        return _plain(reply("Forbidden", final=True), 403)
    try:
        if (request.content_length or 0) > MAX_FORM_BYTES:
            return _plain(service.message("ussd.error", service.default_language))
        form = request.form
        hop = UssdHop(session_id=form.get("sessionId", ""), phone=form.get("phoneNumber", ""),
                      text=form.get("text", ""), service_code=form.get("serviceCode", ""),
                      network_code=form.get("networkCode", ""))
        if not hop.session_id:
            return _plain(service.message("ussd.error", service.default_language))
        return _plain(service.handle(hop))
    except Exception:
        # Log the type and where, never the form: it carries the phone number.
        log.exception("ussd hop failed")
        return _plain(service.message("ussd.error", service.default_language))
