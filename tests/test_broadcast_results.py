"""A broadcast's results per member: who it went to and what became of each (numbers
masked for viewers), as a page and a CSV; resend to the failed (never to the
unknown); the cancelled counted; a draft deleted."""

from __future__ import annotations

from sqlalchemy import select, update

from gateway.runtime import runtime_of
from gateway.store.models import AuditEvent, Broadcast, OutboundMessage

from .fakes import drain
from .helpers import add_member
from .test_dashboard_pages import post, signed_in


def _sent(app, client, count=3) -> str:
    with runtime_of(app).db.session() as db:
        for n in range(count):
            add_member(db, f"+85620555123{n:02d}", name=f"Noy {n}", language="en")
    made = post(client, "/broadcasts/new", {"text_en": "Hello {name}"})
    post(client, made.location + "/send", {"confirm": "yes"})
    drain(app)
    return made.location


def test_recipients_page_and_csv_masked_for_viewers(people):
    organiser, viewer = signed_in(people), signed_in(people, "kham@ngo.la")
    page_url = _sent(people, organiser)
    mine = organiser.get(page_url + "/recipients").get_data(as_text=True)
    assert "+8562055512300" in mine and "Noy 0" in mine and mine.count('data-label="Status">sent') == 3
    theirs = viewer.get(page_url + "/recipients").get_data(as_text=True)
    assert "+8562055512300" not in theirs and "Noy 0" in theirs
    csv = viewer.get(page_url + "/recipients.csv").get_data(as_text=True)
    assert "Noy 1" in csv and "+8562055512301" not in csv and ",sent," in csv
    assert app_get(people, page_url).count("Cancelled") >= 1
    assert organiser.get(page_url + "/recipients?status=failed").get_data(as_text=True).count("Noy") == 0


def app_get(app, url):
    return signed_in(app).get(url).get_data(as_text=True)


def test_resend_to_the_failed_not_the_unknown(people):
    organiser, viewer = signed_in(people), signed_in(people, "kham@ngo.la")
    page_url = _sent(people, organiser)
    broadcast_id = int(page_url.rsplit("/", 1)[1])
    with runtime_of(people).db.session() as db:
        first, second, _third = db.scalars(select(OutboundMessage.id).order_by(OutboundMessage.id)).all()
        # what a provider's failure and a lost answer leave behind
        db.execute(update(OutboundMessage).where(OutboundMessage.id == first).values(status="failed", error="busy"))
        db.execute(update(OutboundMessage).where(OutboundMessage.id == second).values(status="unknown"))
    assert "Resend to the failed" in organiser.get(page_url).get_data(as_text=True)
    assert post(viewer, page_url + "/resend-failed").status_code == 403
    post(organiser, page_url + "/resend-failed")
    drain(people)
    with runtime_of(people).db.session() as db:
        statuses = [m.status for m in db.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]
        assert statuses == ["sent", "unknown", "sent"]
        assert (
            db.scalar(select(AuditEvent).where(AuditEvent.action == "broadcast.resend_failed")).subject
            == f"broadcast {broadcast_id}"
        )


def test_a_draft_is_deleted_a_sent_one_is_not(people):
    organiser, viewer = signed_in(people), signed_in(people, "kham@ngo.la")
    sent_url = _sent(people, organiser)
    draft = post(organiser, "/broadcasts/new", {"text_en": "Maybe later"}).location
    assert post(viewer, draft + "/delete").status_code == 403
    assert post(organiser, sent_url + "/delete").status_code == 302
    assert post(organiser, draft + "/delete").status_code == 302
    with runtime_of(people).db.session() as db:
        assert [b.id for b in db.scalars(select(Broadcast))] == [int(sent_url.rsplit("/", 1)[1])]
        assert db.scalar(select(AuditEvent).where(AuditEvent.action == "broadcast.delete")) is not None
