"""``POST /ussd/africastalking`` (Africa's Talking) and ``POST /ussd/http`` (a local
aggregator, its fields and reply shape as HTTP_AGGREGATOR_CONFIG says).

Whatever arrives, the telco gets a ``text/plain`` body starting ``CON `` or
``END `` (or the aggregator's own JSON or form shape of it): a stack trace or an HTTP 500 would end the member's session with a
network error instead of a message she can read.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from gateway.channels.ussd.pages import reply
from gateway.channels.ussd.service import UssdHop
from gateway.providers.http import pick
from gateway.web.auth import webhook
from gateway.web.fields import request_fields

bp = Blueprint("ussd", __name__)
log = logging.getLogger(__name__)



def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _refused(status: int) -> Response:
    return _plain(reply("Forbidden" if status == 403 else "Not found" if status == 404 else "Too long",
                        final=True), status)


def _aggregator_refused(status: int) -> Response:
    text = reply("Forbidden" if status == 403 else "Not found" if status == 404 else "Too long", final=True)
    if status == 404:  # not configured: there is no shape to answer in
        return _plain(text, status)
    body, content_type = current_app.extensions["parsers"]["http"].shape.ussd_reply.render(text)
    return Response(body, status=status, content_type=f"{content_type}; charset=utf-8")


@bp.post("/ussd/africastalking")
@webhook("africastalking", _refused)
def africastalking():
    service = current_app.extensions["ussd"]
    try:
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


@bp.post("/ussd/http")
@webhook("http", _aggregator_refused)
def http_aggregator():
    service, shape = current_app.extensions["ussd"], current_app.extensions["parsers"]["http"].shape
    reply_shape = shape.ussd_reply

    def answer(text: str, status: int = 200) -> Response:
        body, content_type = reply_shape.render(text)
        return Response(body, status=status, content_type=f"{content_type}; charset=utf-8")

    try:
        fields = request_fields()
        hop = UssdHop(session_id=str(pick(fields, shape.ussd_field("session", "sessionId")) or ""),
                      phone=str(pick(fields, shape.ussd_field("phone", "phoneNumber")) or ""),
                      text=str(pick(fields, shape.ussd_field("text", "text")) or ""),
                      latest=shape.ussd_field("text_is", "cumulative") == "latest",
                      hop_id=str(pick(fields, shape.ussd_field("hop_id", "")) or "") if shape.ussd.get("hop_id") else "")
        if not hop.session_id:
            return answer(service.message("ussd.error", service.default_language))
        return answer(service.handle(hop))
    except Exception:
        log.exception("ussd hop via the http aggregator failed")  # never the fields: they hold the number
        return answer(service.message("ussd.error", service.default_language))
