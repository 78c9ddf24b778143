"""Inbound SMS: ``POST /sms/africastalking``, ``POST /sms/twilio`` and ``POST /sms/android``.

Replies are not sent from here: they are queued for the worker, so the provider
gets its answer at once. Twilio gets an empty TwiML ``<Response />`` (the SDK's ``MessagingResponse``).

A 2xx means the text is durable: in the inbox, which the worker's drainer process
takes in batches (``channels/sms/inbox.py``), or, while the database is down,
in the inbound spool (``channels/sms/spool.py``). Only when neither works does the
provider get a 503, so that it tries again.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request
from twilio.twiml.messaging_response import MessagingResponse

from gateway.messaging import outbox
from gateway.providers.base import DeliveryReport, Inbound
from gateway.services import is_outage
from gateway.web.auth import webhook
from gateway.web.fields import request_fields

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)
EMPTY_TWIML = str(MessagingResponse())  # nothing to send back now: replies go out through the outbox


def _receive(provider: str, inbound=None) -> bool:
    """Process (or spool) the inbound text; False if it could not be made durable."""
    if inbound is None:
        try:
            inbound = current_app.extensions["parsers"][provider].parse_inbound(request.form)
        except Exception:
            log.exception("unreadable inbound sms via %s", provider)  # nothing to keep
            return True
    if inbound is None:
        return True
    spool, inbox = current_app.extensions["spool"], current_app.extensions["inbox"]
    try:
        inbox.add(inbound)
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
    spool.watch(inbox.add)  # started on the first text, in each web process
    return True


def _plain_refused(status: int) -> Response:
    return Response({403: "Forbidden", 404: "Not found"}.get(status, "Too long"), status, mimetype="text/plain")


def _twiml_refused(status: int) -> Response:
    return Response(EMPTY_TWIML, status, mimetype="text/xml")


def _json_refused(status: int) -> Response:
    return jsonify(error={403: "forbidden", 404: "not found"}.get(status, "too long")), status


@bp.post("/sms/africastalking")
@webhook("africastalking", _plain_refused)
def africastalking():
    if not _receive("africastalking"):
        return Response("Try again later", 503, mimetype="text/plain")
    return Response("", 200, mimetype="text/plain")


@bp.post("/sms/twilio")
@webhook("twilio", _twiml_refused)
def twilio():
    if not _receive("twilio"):
        return Response(EMPTY_TWIML, 503, mimetype="text/xml")
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")


@bp.post("/sms/android")
@webhook("android", _json_refused)
def android():
    """SMS Gateway for Android's webhooks: ``sms:received``, ``sms:sent``,
    ``sms:delivered``, ``sms:failed`` (and ``system:ping``), signed with the app's
    key. Bad signature: 403, nothing kept. Not JSON: 400. Other events: 200, ignored.
    The phone retries an event it got no 2xx for, for about two days; the event's
    id makes a retried text count once, and a report only ever moves a row forward."""
    phone = current_app.extensions["parsers"]["android"]
    raw = request.get_data(cache=False)  # read (and its signature checked) by the guard
    try:
        event = json.loads(raw)
        if not isinstance(event, dict):
            raise TypeError("not an object")
        parsed = phone.parse_event(event)
    except (ValueError, KeyError, TypeError) as exc:
        log.info("unreadable android webhook: %s", type(exc).__name__)
        return jsonify(error="not a webhook event"), 400
    if event.get("event") == "system:ping" and phone.pool is not None:
        for known in phone.phones:  # it is alive: back in the rotation
            if known.device_id in (None, event.get("deviceId")):
                phone.pool.answered(known)
    if isinstance(parsed, Inbound):
        if not _receive("android", parsed):
            return jsonify(error="try again later"), 503
    elif isinstance(parsed, DeliveryReport):
        try:
            with current_app.extensions["db"].session() as db:
                outbox.apply_report(db, parsed)
        except Exception as exc:
            log.exception("delivery report via android failed")
            if is_outage(exc):  # the phone will send it again
                return jsonify(error="try again later"), 503
    return jsonify(ok=True), 200


@bp.post("/sms/http")
@webhook("http", _json_refused)
def http_aggregator():
    """A local aggregator's inbound text, its field names as HTTP_AGGREGATOR_CONFIG says."""
    try:
        inbound = current_app.extensions["parsers"]["http"].parse_inbound(request_fields())
    except ValueError:
        inbound = None
    if inbound is None:
        return jsonify(error="no sender, or no message id, in the fields configured"), 400
    if not _receive("http", inbound):
        return jsonify(error="try again later"), 503
    return jsonify(ok=True), 200
