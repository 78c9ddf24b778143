"""The phones' webhook: ``POST /sms/android``.

SMS Gateway for Android posts ``sms:received``, ``sms:sent``, ``sms:delivered``,
``sms:failed`` (and ``system:ping``), signed with the app's key: an HMAC over the
body and a fresh timestamp (``signature.py``). Bad signature: 403, nothing kept.
Not JSON: 400. Other events: 200, ignored. The phone retries an event it got no
2xx for, for about two days; the event's id makes a retried text count once, and a
report only ever moves a row forward.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request

from gateway.providers.base import DeliveryReport, Inbound
from gateway.runtime import runtime
from gateway.outage import is_outage
from gateway.webhooks import inbound, refusals, reports
from gateway.webhooks.guard import webhook

bp = Blueprint("android", __name__)
log = logging.getLogger(__name__)


def _configured() -> bool:
    return bool(current_app.config["GATEWAY"].android_signing_key)


def _authentic() -> bool:
    return runtime().parsers["android"].verified(request.get_data(cache=True), request.headers)


guard = webhook("android", _configured, _authentic)


@bp.post("/sms/android")
@guard(refusals.json)
def sms():
    phone = runtime().parsers["android"]
    raw = request.get_data(cache=False)  # read (and its signature checked) by the guard
    try:
        event = json.loads(raw)
        if not isinstance(event, dict):
            raise TypeError("not an object")
        parsed = phone.parse_event(event)
    except (ValueError, KeyError, TypeError) as exc:
        log.info("unreadable android webhook: %s", type(exc).__name__)
        return jsonify(error="not a webhook event"), 400
    if event.get("event") == "system:ping":
        phone.answered(event.get("deviceId"))  # it is alive: back in the rotation
    if isinstance(parsed, Inbound):
        if not inbound.keep("android", parsed):
            return jsonify(error="try again later"), 503
    elif isinstance(parsed, DeliveryReport):
        try:
            reports.apply(parsed)
        except Exception as exc:
            log.exception("delivery report via android failed")
            if is_outage(exc):  # the phone will send it again
                return jsonify(error="try again later"), 503
    return jsonify(ok=True), 200
