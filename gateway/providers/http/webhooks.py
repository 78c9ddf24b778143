"""The HTTP aggregator's webhooks: ``POST /sms/http``, ``/status/http`` and ``/ussd/http``, with
field names and reply shape as ``HTTP_AGGREGATOR_CONFIG`` says. They carry the
file's ``token:`` as ``?token=`` or an ``X-Token`` header; with no file, 404."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from gateway.channels.ussd.pages import reply
from gateway.channels.ussd.service import UssdHop
from gateway.providers.http.provider import pick
from gateway.runtime import runtime
from gateway.outage import is_outage
from gateway.webhooks import inbound, refusals, reports, ussd
from gateway.webhooks.fields import request_fields
from gateway.webhooks.guard import same, webhook

bp = Blueprint("http", __name__)
log = logging.getLogger(__name__)


def _shape():
    return runtime().parsers["http"].shape


def _configured() -> bool:
    return bool(_shape().token)


def _authentic() -> bool:
    return same(request.args.get("token") or request.headers.get("X-Token", ""), _shape().token)


guard = webhook("http", _configured, _authentic)


def _answer(text: str, status: int = 200) -> Response:
    body, content_type = _shape().ussd_reply.render(text)
    return Response(body, status=status, content_type=f"{content_type}; charset=utf-8")


def _ussd_refused(status: int) -> Response:
    if status == 404:  # not configured: there is no shape to answer in
        return refusals.ussd(status)
    return _answer(reply("Forbidden" if status == 403 else "Too long", final=True), status)


@bp.post("/sms/http")
@guard(refusals.json)
def sms():
    try:
        text = runtime().parsers["http"].parse_inbound(request_fields())
    except ValueError:
        text = None
    if text is None:
        return jsonify(error="no sender, or no message id, in the fields configured"), 400
    if not inbound.keep("http", text):
        return jsonify(error="try again later"), 503
    return jsonify(ok=True), 200


@bp.post("/status/http")
@guard(refusals.json)
def status():
    """A delivery report. One it cannot read is answered 400; a database outage 503,
    so that the aggregator sends it again."""
    try:
        report = runtime().parsers["http"].parse_report(request_fields())
    except ValueError:
        return jsonify(error="not a delivery report"), 400
    if report is not None:
        try:
            reports.apply(report)
        except Exception as exc:
            log.exception("delivery report via the http aggregator failed")
            if is_outage(exc):
                return jsonify(error="try again later"), 503
    return jsonify(ok=True), 200


@bp.post("/ussd/http")
@guard(_ussd_refused)
def ussd_hop():
    shape = _shape()

    def read() -> UssdHop:
        fields = request_fields()
        return UssdHop(
            session_id=str(pick(fields, shape.ussd_field("session", "sessionId")) or ""),
            phone=str(pick(fields, shape.ussd_field("phone", "phoneNumber")) or ""),
            text=str(pick(fields, shape.ussd_field("text", "text")) or ""),
            latest=shape.ussd_field("text_is", "cumulative") == "latest",
            hop_id=str(pick(fields, shape.ussd_field("hop_id", "")) or "") if shape.ussd.get("hop_id") else "",
        )

    return _answer(ussd.answer("http", read))
