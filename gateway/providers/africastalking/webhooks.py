"""Africa's Talking's webhooks: ``/ussd``, ``/sms``, ``/status`` and ``/voice`` under
``/<kind>/africastalking``.

Africa's Talking signs nothing, so each callback URL carries ``?token=``: the
install's ``AT_WEBHOOK_TOKEN`` (or its generated one). Its routes are always served,
and always locked. USSD answers are ``CON …``/``END …`` text; calls get AT's XML.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from gateway.channels.ussd.service import UssdHop
from gateway.channels.voice import markup
from gateway.messaging import calls as outbound_calls
from gateway.runtime import runtime
from gateway.webhooks import calls, inbound, refusals, reports, ussd
from gateway.webhooks.guard import same, webhook

bp = Blueprint("africastalking", __name__)
# Hang-up causes of a placed call worth calling again.
RETRY_CAUSES = {
    "NO_ANSWER",
    "USER_BUSY",
    "NO_USER_RESPONSE",
    "CALL_REJECTED",
    "ORIGINATOR_CANCEL",
    "NORMAL_TEMPORARY_FAILURE",
    "RECOVERY_ON_TIMER_EXPIRE",
}


def call_outcome(form) -> str:
    """A placed call's end, from AT's end-of-call post: ``status`` and ``hangupCause``."""
    cause = (form.get("hangupCause") or "").upper()
    status = form.get("status") or form.get("callSessionState") or ""
    if status in ("NotAnswered", "Failed", "Aborted") or cause in RETRY_CAUSES:
        return outbound_calls.RETRY if cause in RETRY_CAUSES or status == "NotAnswered" else outbound_calls.FAILED
    return outbound_calls.ANSWERED


def _configured() -> bool:
    return bool(current_app.config["GATEWAY"].at_webhook_token)


def _authentic() -> bool:
    return same(request.args.get("token", ""), current_app.config["GATEWAY"].at_webhook_token)


guard = webhook("africastalking", _configured, _authentic)


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status, mimetype="text/plain")


@bp.post("/ussd/africastalking")
@guard(refusals.ussd)
def ussd_hop():
    form = request.form
    return _text(
        ussd.answer(
            "africastalking",
            lambda: UssdHop(
                session_id=form.get("sessionId", ""),
                phone=form.get("phoneNumber", ""),
                text=form.get("text", ""),
                service_code=form.get("serviceCode", ""),
                network_code=form.get("networkCode", ""),
            ),
        )
    )


@bp.post("/sms/africastalking")
@guard(refusals.plain)
def sms():
    if not inbound.keep("africastalking"):
        return _text("Try again later", 503)
    return _text("")


@bp.post("/status/africastalking")
@guard(refusals.empty)
def status():
    """Delivery reports, and the bulk opt-out notification if pointed here."""
    reports.apply_form("africastalking")
    return _text("")


def _render(step, action: str = "") -> str:
    return markup.at_xml(step.speech, step.language, calls.audio_url, action, step.english)


@bp.post("/voice/africastalking")
@guard(refusals.voice)
@calls.always_xml(_render)
def voice():
    form = request.form
    call_id = form.get("sessionId", "")
    if form.get("isActive", "1") == "0":  # the end-of-call notification
        calls.ended("africastalking", call_id)
        if call_id and form.get("direction", "Inbound") == "Outbound":
            outbound_calls.settle(runtime().services, "africastalking", call_id, call_outcome(form))
        return calls.xml(markup.empty())
    callback = f"{calls.base()}/voice/africastalking?token={current_app.config['GATEWAY'].at_webhook_token}"
    incoming = form.get("direction", "Inbound") == "Inbound"
    caller = form.get("callerNumber", "") if incoming else form.get("destinationNumber", "")
    studio = calls.studio_step(
        "africastalking", call_id, form.get("dtmfDigits", ""), form.get("recordingUrl", ""), caller
    )
    if studio is not None:
        return calls.xml(_render(studio, callback))
    if incoming and calls.call_back("africastalking", call_id, caller):
        return calls.xml(markup.reject())
    placed = None
    if not incoming and call_id:
        with runtime().db.session() as db:
            row = outbound_calls.find(db, "africastalking", call_id)
            placed = row.id if row is not None else None
    step = calls.step(
        "africastalking",
        call_id,
        caller,
        form.get("dtmfDigits", ""),
        form.get("recordingUrl", ""),
        request.args.get("silent") == "1",
        placed,
    )
    return calls.xml(_render(step, callback))
