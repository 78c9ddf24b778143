"""Delivery reports: ``POST /status/africastalking`` and ``POST /status/twilio``.

A report moves its outbox row forward (a final state never moves back). An unknown
id gets 200 and changes nothing. Africa's Talking's bulk opt-out notification
(``senderId``, ``phoneNumber``) may be pointed at the same URL.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from gateway.messaging import calls as outbound_calls
from gateway.messaging import outbox
from gateway.phone import mask, to_e164
from gateway.providers.base import OptOutNotice
from gateway.store import members
from gateway.store.models import utcnow
from gateway.web.auth import webhook

bp = Blueprint("status", __name__)
log = logging.getLogger(__name__)


def _apply(provider: str) -> None:
    try:
        report = current_app.extensions["parsers"][provider].parse_report(request.form)
        if report is None:
            return
        with current_app.extensions["db"].session() as db:
            if isinstance(report, OptOutNotice):
                member = members.by_phone(db, to_e164(report.phone) or "")
                if member is not None and member.opted_out_at is None:
                    member.opted_out_at = utcnow()
                    log.info("member %s opted out at %s", mask(member.phone), provider)
            else:
                outbox.apply_report(db, report)
    except Exception:
        log.exception("delivery report via %s failed", provider)


def _call_status() -> None:
    status = request.form.get("CallStatus", "")
    outcome = outbound_calls.TWILIO_OUTCOME.get(status)
    if outcome is None:
        return  # not final yet (ringing, in-progress)
    try:
        outbound_calls.settle(current_app.extensions["services"], "twilio", request.form["CallSid"], outcome)
    except Exception:
        log.exception("call status via twilio failed")


def _refused(status: int) -> Response:
    return Response("", status, mimetype="text/plain")


@bp.post("/status/africastalking")
@webhook("africastalking", _refused)
def africastalking():
    _apply("africastalking")
    return Response("", 200, mimetype="text/plain")


@bp.post("/status/twilio")
@webhook("twilio", _refused)
def twilio():
    if request.form.get("CallSid") and request.form.get("CallStatus") and not request.form.get("MessageSid"):
        _call_status()  # a call we placed has ended
    else:
        _apply("twilio")
    return Response("", 200, mimetype="text/plain")
