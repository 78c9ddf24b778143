"""The simulator's members stay test members: marked so on the Members page, never
in a broadcast's audience, never reminded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway.messaging import broadcasts, bulk, reminders
from gateway.messaging.audience import Audience
from gateway.phone import fictional
from gateway.runtime import runtime_of
from gateway.store.models import OutboundMessage, utcnow

from .helpers import add_member, add_session
from .test_dashboard_pages import signed_in


def test_a_test_member_is_marked_never_sent_to_and_never_reminded(people):
    app = people
    services = runtime_of(app).services
    with services.db.session() as db:
        real = add_member(db, "+8562055512345", name="Noy").id
        add_member(db, fictional(3), name="Test")  # what the simulator registers, on its topic
        broadcast_id = broadcasts.create(db, {"lo": "ສະບາຍດີ {name}", "en": "Hi {name}"}, Audience()).id
    assert bulk.dispatch(services, broadcast_id)[0] == 1
    with services.db.session() as db:
        session = add_session(db, starts=(utcnow() + timedelta(hours=10)).strftime("%Y-%m-%d %H:%M"))
        [reminder] = reminders.sync(db, session, [60])
        reminder.due_at = utcnow() - timedelta(minutes=1)
        reminder_id = reminder.id
    assert reminders.fire(services, reminder_id).startswith("broadcast")
    with services.db.session() as db:
        assert {m.member_id for m in db.scalars(select(OutboundMessage))} == {real}
    page = signed_in(app).get("/members").get_data(as_text=True)
    assert "test member (simulator): never sent to" in page
