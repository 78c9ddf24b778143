"""Twilio's webhooks: ``/sms/twilio``, ``/status/twilio`` and ``/voice/twilio``.

Twilio signs each request (``X-Twilio-Signature``) over the URL it called and the
POST fields, with ``TWILIO_AUTH_TOKEN``. Behind a TLS proxy the URL Twilio called is
``PUBLIC_BASE_URL`` + path + query, not what Flask sees, so that is what is checked.
Texts get an empty TwiML ``<Response />`` (the SDK's ``MessagingResponse``): replies
go out through the outbox. Calls get TwiML built with the SDK's ``VoiceResponse``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from gateway.channels.voice import markup
from gateway.messaging import calls as outbound_calls
from gateway.runtime import runtime
from gateway.webhooks import calls, inbound, refusals, reports
from gateway.webhooks.guard import webhook

bp = Blueprint("twilio", __name__)
log = logging.getLogger(__name__)
EMPTY_TWIML = str(MessagingResponse())  # nothing to send back now: replies go out through the outbox
FINAL_CALL_STATUS = ("completed", "busy", "failed", "no-answer", "canceled")
# A placed call's final status, as Twilio names it.
CALL_OUTCOME = {
    "completed": outbound_calls.ANSWERED,
    "busy": outbound_calls.RETRY,
    "no-answer": outbound_calls.RETRY,
    "failed": outbound_calls.FAILED,
    "canceled": outbound_calls.FAILED,
}


def _configured() -> bool:
    return bool(current_app.config["GATEWAY"].twilio_auth_token)


def _authentic() -> bool:
    config = current_app.config["GATEWAY"]
    base = config.public_base_url.rstrip("/") or request.host_url.rstrip("/")
    query = request.query_string.decode("utf-8", "replace")
    url = f"{base}{request.path}" + (f"?{query}" if query else "")
    signature = request.headers.get("X-Twilio-Signature", "")
    return bool(signature) and RequestValidator(config.twilio_auth_token).validate(
        url, request.form.to_dict(), signature
    )


guard = webhook("twilio", _configured, _authentic)


def _twiml(status: int = 200) -> Response:
    return Response(EMPTY_TWIML, status, mimetype="text/xml")


@bp.post("/sms/twilio")
@guard(_twiml)
def sms():
    return _twiml(200 if inbound.keep("twilio") else 503)


@bp.post("/status/twilio")
@guard(refusals.empty)
def status():
    """A text's delivery report, or the end of a call we placed."""
    form = request.form
    if form.get("CallSid") and form.get("CallStatus") and not form.get("MessageSid"):
        outcome = CALL_OUTCOME.get(form["CallStatus"])
        if outcome is not None:  # None: not final yet (ringing, in-progress)
            try:
                outbound_calls.settle(runtime().services, "twilio", form["CallSid"], outcome)
            except Exception:
                log.exception("call status via twilio failed")
    else:
        reports.apply_form("twilio")
    return Response("", 200, mimetype="text/plain")


def _render(step, action: str = "") -> str:
    return markup.twiml(step.speech, step.language, calls.audio_url, action, step.english)


@bp.post("/voice/twilio")
@guard(refusals.voice)
@calls.always_xml(_render)
def voice():
    form = request.form
    call_id = form.get("CallSid", "")
    if form.get("CallStatus") in FINAL_CALL_STATUS:
        calls.ended("twilio", call_id)
        return calls.xml(markup.empty())
    action = f"{calls.base()}/voice/twilio"
    incoming = form.get("Direction", "inbound") == "inbound"
    caller = form.get("From", "") if incoming else form.get("To", "")
    studio = calls.studio_step("twilio", call_id, form.get("Digits", ""), form.get("RecordingUrl", ""), caller)
    if studio is not None:
        return calls.xml(_render(studio, action))
    if incoming and calls.call_back("twilio", call_id, caller):
        return calls.xml(markup.reject())
    placed = request.args.get("call", "")
    step = calls.step(
        "twilio",
        call_id,
        caller,
        form.get("Digits", ""),
        form.get("RecordingUrl", ""),
        request.args.get("silent") == "1",
        int(placed) if placed.isdigit() else None,
    )
    return calls.xml(_render(step, action))
