"""A basic phone on the page: dial the USSD menus or text the gateway, in Lao or
English, over the real webhooks, flows, database and Redis.

Each organiser gets her own test number, from her account id: one of the numbers
kept for fiction (``gateway.phone.fictional``), which no real member can have, so
two organisers testing at once never share a session and none acts as a member. Her test member is real:
registering makes a member with that number (erase it from Members when done).
SMS replies are the real outbox rows; with a real provider configured, the worker
really sends them to that made-up number.
"""

from __future__ import annotations

import uuid

from flask import current_app, g, jsonify, render_template, request
from sqlalchemy import select

from gateway.broker import workers_alive
from gateway.dashboard.auth import bp, needs
from gateway.outage import is_outage
from gateway.phone import fictional
from gateway.runtime import runtime
from gateway.store import members
from gateway.store.models import OutboundMessage

SERVICE_CODE = "*384*1#"
SMS_WAIT_S = 3.0  # how long a simulated text waits for the worker's drainer before the page asks again


def test_number() -> str:
    return fictional(g.user.id)


def _webhook(path: str, form: dict) -> str:
    """Post to the gateway's own webhook exactly as Africa's Talking would."""
    url = f"{path}?token={current_app.config['GATEWAY'].at_webhook_token}"
    return current_app.test_client().post(url, data=form).get_data(as_text=True)


@bp.get("/simulator")
@needs("send")
def simulator():
    library = runtime().services.library
    return render_template(
        "dashboard/simulator.html",
        number=test_number(),
        service_code=SERVICE_CODE,
        preview=library.previewing(test_number()),
        published=library.current().number,
    )


@bp.post("/simulator/ussd")
@needs("send")
def simulator_ussd():
    """One USSD hop: ``session`` names the dial, ``text`` is everything typed so far
    joined with ``*``, as the network sends it."""
    session_id = request.form.get("session", "")[:40] or f"SIM{uuid.uuid4().hex[:12]}"
    text = request.form.get("text", "")[:500]
    reply = _webhook(
        "/ussd/africastalking",
        {
            "sessionId": session_id,
            "serviceCode": SERVICE_CODE,
            "phoneNumber": test_number(),
            "networkCode": "45701",
            "text": text,
        },
    )
    kind, _, screen = reply.partition(" ")
    return jsonify(session=session_id, ended=kind != "CON", screen=screen)


@bp.post("/simulator/sms")
@needs("send")
def simulator_sms():
    """Text the gateway; the answer is the replies it wrote to the outbox for her."""
    phone = test_number()
    body = request.form.get("text", "")[:480]
    with runtime().db.session() as db:
        last = db.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()).limit(1)) or 0
    message_id = f"SIM{uuid.uuid4().hex}"
    _webhook(
        "/sms/africastalking", {"from": phone, "to": "20880", "text": body, "id": message_id, "date": "", "linkId": ""}
    )
    inbox = runtime().inbox
    try:  # the webhook only stored it
        if workers_alive(runtime().redis):
            # Its drainer takes it within 50 ms; a page that returns sooner asks again.
            inbox.wait_for("africastalking", message_id, timeout=SMS_WAIT_S)
        else:  # no worker (not started, or being restarted): process it here, as it would
            inbox.drain(wait=True)
    except Exception as exc:
        if not is_outage(exc):
            raise
    return jsonify(after=last, replies=_replies(phone, last))


@bp.get("/simulator/sms")
@needs("send")
def simulator_sms_replies():
    """Replies written since ``after`` (a reply can be written by a worker a moment later)."""
    after = request.args.get("after", "0")
    return jsonify(replies=_replies(test_number(), int(after) if after.isdigit() and len(after) < 10 else 0))


def _replies(phone: str, after: int) -> list[dict]:
    with runtime().db.session() as db:
        member = members.by_phone(db, phone)
        if member is None:
            return []
        return [
            {"id": row_id, "text": text}
            for row_id, text in db.execute(
                select(OutboundMessage.id, OutboundMessage.body)
                .where(OutboundMessage.member_id == member.id, OutboundMessage.id > after)
                .order_by(OutboundMessage.id)
            )
        ]


@bp.post("/simulator/call")
@needs("send")
def simulator_call():
    """One step of a phone call, as the caller hears it: the words of each piece and
    whether it is recorded (in her language, or played in English meanwhile). With
    no ``call`` it rings; then ``keys`` are what she pressed (empty: silence)."""
    calls, library = runtime().calls, runtime().audio
    call_id = request.form.get("call", "")[:40]
    keys = request.form.get("keys", "")[:8]
    if not call_id:
        call_id = f"SIMCALL{uuid.uuid4().hex[:12]}"
        step = calls.step("simulator", call_id, test_number())
    elif request.form.get("record") == "1":  # no microphone here: her words stand for the recording
        step = calls.step("simulator", call_id, test_number(), recording=f"sim-recording:{keys}")
    else:
        step = calls.step("simulator", call_id, test_number(), digits=keys, silent=not keys)
    lines = [
        {"text": piece.text, "recorded": bool(piece.key and library.file(step.language, piece.key))}
        for piece in step.speech.pieces
    ]
    return jsonify(
        call=call_id,
        lines=lines,
        language=step.language,
        record=step.speech.record,
        ended=not (step.speech.digits or step.speech.record),
    )
