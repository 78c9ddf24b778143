"""No text goes out with an empty blank: a placeholder with no value for some
recipient is refused at preview, on the dashboard and in the CLI, naming it and
what to choose; the preview shows each different text; and the outbox itself
refuses such a text, whatever path a broadcast took."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.errors import InputProblem
from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.runtime import runtime_of
from gateway.store.models import Broadcast, Enrolment, Member, OutboundMessage

from .helpers import add_member, add_session
from .test_dashboard_pages import post, signed_in


def _count(app, model) -> int:
    with runtime_of(app).db.session() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_the_composer_refuses_a_session_blank_and_keeps_what_she_typed(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        member = add_member(db, "+8562055512345", name="Noy")
        session_id = add_session(db).id
        db.add(Enrolment(member_id=member.id, session_id=session_id))
    text = "ເຕືອນ: {session.title} ເລີ່ມ {session.starts_at}"
    refused = post(client, "/broadcasts/new", {"text_lo": text, "name": "reminder"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "no session is chosen" in page and "{session.title}" in page and text in page
    assert _count(people, Broadcast) == 0
    made = post(client, "/broadcasts/new", {"text_lo": text, "name": "reminder", "session": str(session_id)})
    assert made.status_code == 302  # with the session chosen (and her enrolment as the audience)


def test_a_member_without_a_name_is_named_as_the_reason(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055512345", name="Noy")
        add_member(db, "+8562055512346", name="")
    refused = post(client, "/broadcasts/new", {"text_en": "Hello {name}!"})
    assert refused.status_code == 400
    assert "{name} would be empty for 1 recipient(s)" in refused.get_data(as_text=True)
    assert _count(people, Broadcast) == 0


def test_the_preview_shows_each_different_text(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        for n, name in enumerate(("Noy", "Kham", "Noy")):
            add_member(db, f"+85620555123{n:02d}", name=name, language="en")
    made = post(client, "/broadcasts/new", {"text_en": "Hello {name}!"})
    page = client.get(made.location).get_data(as_text=True)
    assert "Hello Noy!" in page and "Hello Kham!" in page and "(2 recipients)" in page


def test_a_name_erased_after_the_preview_stops_the_send(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        member_id = add_member(db, "+8562055512345", name="Noy", language="en").id
    made = post(client, "/broadcasts/new", {"text_en": "Hello {name}!"})
    with runtime_of(people).db.session() as db:
        db.get(Member, member_id).name = None
    page = client.get(made.location).get_data(as_text=True)
    assert "would be empty" in page and 'name="confirm"' not in page  # no Send button
    sent = post(client, made.location + "/send", {"confirm": "yes"})
    assert sent.status_code == 302 and _count(people, OutboundMessage) == 0


def test_the_cli_refuses_a_blank_and_keeps_nothing(run, app):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055512345", name="Noy")
    created = run("broadcast", "create", "--text", "lo", "ເຕືອນ: {session.title}")
    assert created.exit_code == 1 and "no session is chosen" in created.output
    one_step = run("broadcast", "send", "--audience", "all", "--text", "lo", "{session.where}", "--yes")
    assert one_step.exit_code == 1 and "{session.where}" in one_step.output
    assert _count(app, Broadcast) == 0 and _count(app, OutboundMessage) == 0


@pytest.mark.parametrize("text,name", [("Reminder: {session.title}", "Noy"), ("Hello {name}", "")])
def test_no_text_with_an_empty_placeholder_reaches_the_outbox(app, text, name):
    """Whatever made the broadcast (a script, an old draft), writing its outbox rows
    refuses a blank, and writes none of them."""
    services = runtime_of(app).services
    with services.db.session() as db:
        add_member(db, "+8562055512345", name="Kham")
        add_member(db, "+8562055512346", name=name)
        broadcast_id = broadcasts.create(db, {"lo": text, "en": text}, Audience()).id
    with pytest.raises(InputProblem):
        bulk.dispatch(services, broadcast_id)
    assert _count(app, OutboundMessage) == 0
    with services.db.session() as db:
        assert db.get(Broadcast, broadcast_id).status == "draft"
