"""A session's page says who gets each reminder, how, and the very words; a session
may have its own reminder words, checked as a broadcast's text is."""

from __future__ import annotations

from datetime import timedelta

from gateway.messaging import reminders
from gateway.phone import fictional
from gateway.runtime import runtime_of
from gateway.store.models import OutboundMessage, utcnow

from .helpers import add_member
from .test_dashboard_pages import signed_in


def test_a_session_says_who_gets_each_reminder_and_what_it_says(people):
    """By language: how many (by SMS, by a call), a link to them, and the exact text."""
    from .test_dashboard_pages import post

    app = people
    client = signed_in(app)
    with runtime_of(app).db.session() as db:
        for n in range(3):
            add_member(db, f"+85620555123{n:02d}", name="Noy")
        caller = add_member(db, "+8562055512399", name="Kham")
        caller.reminder_channel = "voice"
        add_member(db, "+8562055512398", name="Other", topics=("wash",))
        add_member(db, fictional(1), name="Test")
    form = {
        "title_lo": "ໂພຊະນາການ",
        "title_en": "Nutrition",
        "kind": "hangout",
        "topic": "nutrition",
        "language": "lo",
        "starts_at": "2030-01-11T14:00",
        "duration_minutes": "60",
        "place": "Pakse",
    }
    made = post(client, "/sessions/new", form)
    assert made.status_code == 302, made.get_data(as_text=True)
    page = client.get(made.location.split("?")[0]).get_data(as_text=True)
    assert "4 members" in page and "3 by SMS, 1 by a call" in page
    assert "ເຕືອນ: ໂພຊະນາການ" in page or "ໂພຊະນາການ ເລີ່ມ" in page  # the reminder as it will be sent
    assert "will be sent" in page and ">scheduled<" not in page
    assert "topic=nutrition" in page and "language=lo" in page


def test_a_sessions_own_reminder_words_are_checked_shown_and_sent(people):
    from sqlalchemy import select as select_

    from gateway.store.models import Broadcast, TrainingSession

    from .test_dashboard_pages import post

    app = people
    client = signed_in(app)
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055512345", name="Noy")
    starts = (utcnow() + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "title_lo": "ໂພຊະນາການ",
        "title_en": "Nutrition",
        "kind": "hangout",
        "topic": "nutrition",
        "language": "lo",
        "starts_at": starts,
        "duration_minutes": "60",
        "place": "Pakse",
    }
    made = post(client, "/sessions/new", form)
    session_id = int(made.location.split("?")[0].rsplit("/", 1)[1])
    with runtime_of(app).db.session() as db:
        assert db.get(TrainingSession, session_id).reminder_texts is None  # the shared text, untouched
    for bad, says in (("ມື້ອື່ນ {nmae}", "uses {nmae}"), ("ສະບາຍດີ {name}", "cannot use {name}")):
        refused = post(client, f"/sessions/{session_id}/edit", {**form, "reminder_lo": bad})
        assert refused.status_code == 400 and says in refused.get_data(as_text=True)
    own = "ພົບກັນ {session.title} ທີ່ {session.where}, ເອົາສະໝຸດມານຳ"
    assert post(client, f"/sessions/{session_id}/edit", {**form, "reminder_lo": own}).status_code == 302
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "ພົບກັນ ໂພຊະນາການ ທີ່ Pakse, ເອົາສະໝຸດມານຳ" in page
    services = runtime_of(app).services
    with services.db.session() as db:
        reminder = db.scalar(
            select_(reminders.Reminder).where(
                reminders.Reminder.session_id == session_id, reminders.Reminder.status == "scheduled"
            )
        )
        reminder.due_at = utcnow() - timedelta(minutes=1)
        reminder_id = reminder.id
    reminders.fire(services, reminder_id)
    with services.db.session() as db:
        assert [m.body for m in db.scalars(select_(OutboundMessage))] == ["ພົບກັນ ໂພຊະນາການ ທີ່ Pakse, ເອົາສະໝຸດມານຳ"]
        assert db.scalar(select_(Broadcast.texts))["lo"] == own
