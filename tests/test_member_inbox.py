"""The organisers' inbox: a member texts a question, it lands in /inbox as her
thread; an organiser answers from the page, and her phone (the Africa's Talking
fake) receives the answer once. Viewers read masked numbers and cannot answer;
STOP is respected; erasure and retention reach her texts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from .handsets import Texter
from gateway.runtime import runtime_of
from gateway.store import privacy, users as accounts
from gateway.store.models import AuditEvent, Member, MemberText, utcnow

from .fakes import drain
from .helpers import PASSWORD, add_member
from .test_dashboard_pages import post, signed_in

QUESTION = "ກອງປະຊຸມເດືອນໜ້າ ມີຢູ່ປາກເຊບໍ?"


def _people(app):
    with runtime_of(app).db.session() as db:
        for email, role in (("noy@ngo.la", "organiser"), ("kham@ngo.la", "viewer")):
            accounts.add(db, email, PASSWORD, role, language="en")
        return add_member(db, "+8562055512345", name="Souk").id


def test_a_question_is_answered_from_the_inbox_and_arrives_once(at_app, fake_at):
    member_id = _people(at_app)
    texter = Texter(at_app, "+8562055512345", at_app.config["GATEWAY"].at_webhook_token)
    texter.send(QUESTION)  # not a keyword, not a poll answer: a question
    before = len(fake_at.requests)
    organiser, viewer = signed_in(at_app), signed_in(at_app, "kham@ngo.la")
    listed = organiser.get("/inbox").get_data(as_text=True)
    assert "Souk" in listed and QUESTION in listed and "+8562055512345" in listed
    seen = viewer.get(f"/inbox/{member_id}").get_data(as_text=True)
    assert QUESTION in seen and "+8562055512345" not in seen and "Send the answer" not in seen
    assert post(viewer, f"/inbox/{member_id}/reply", {"text": "Hi"}).status_code == 403

    answer = "ແມ່ນແລ້ວ, ທີ່ຫ້ອງປະຊຸມແຂວງ ເວລາ 9 ໂມງ."
    assert post(organiser, f"/inbox/{member_id}/reply", {"text": "  "}).status_code == 400
    sent = post(organiser, f"/inbox/{member_id}/reply", {"text": answer})
    assert sent.status_code == 302
    drain(at_app)
    drain(at_app)  # a second run finds nothing more to send
    to_her = [r for r in fake_at.requests[before:] if r["message"] == answer]
    assert len(to_her) == 1 and to_her[0]["to"] == "+8562055512345"
    thread = organiser.get(f"/inbox/{member_id}").get_data(as_text=True)
    assert thread.index(QUESTION) < thread.index(answer)
    assert "Souk" not in organiser.get("/inbox").get_data(as_text=True)  # handled: out of the unread
    assert "Souk" in organiser.get("/inbox?show=handled").get_data(as_text=True)
    with runtime_of(at_app).db.session() as db:
        assert db.scalar(select(AuditEvent).where(AuditEvent.action == "inbox.answer")).subject == f"member {member_id}"


def test_stop_is_respected_and_erasure_and_retention_reach_her_texts(at_app):
    member_id = _people(at_app)
    texter = Texter(at_app, "+8562055512345", at_app.config["GATEWAY"].at_webhook_token)
    texter.send(QUESTION)
    texter.send("STOP")
    organiser = signed_in(at_app)
    refused = post(organiser, f"/inbox/{member_id}/reply", {"text": "Hello?"})
    assert refused.status_code == 400 and "STOP" in refused.get_data(as_text=True)
    with runtime_of(at_app).db.session() as db:
        kept = privacy.apply_retention(db, 30, now=utcnow() + timedelta(days=31))
        assert kept["replies"] >= 1 and db.scalar(select(MemberText.text)) == ""
        privacy.erase(db, db.get(Member, member_id), "test")
        assert db.scalar(select(func.count()).select_from(MemberText)) == 0
