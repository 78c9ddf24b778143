"""Quiet hours are said before sending, and only an admin may send through them
(audited): the preview and the confirmation say when it will go; an urgent
broadcast goes now, through the real worker, and the reconciler does not hold it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway.messaging import reconciler
from gateway.runtime import runtime_of
from gateway.store import users as accounts
from gateway.store.models import AuditEvent, Broadcast, OutboundMessage

from .fakes import drain
from .helpers import PASSWORD, add_member
from .test_dashboard_pages import post, signed_in


def _quiet_now() -> str:
    """Quiet hours from an hour ago to two hours from now, local time."""
    now = datetime.now(ZoneInfo("Asia/Vientiane"))
    return f"{(now - timedelta(hours=1)):%H}:00-{(now + timedelta(hours=2)):%H}:00"


def _app(make_app):
    app = make_app(quiet_hours=_quiet_now())
    with runtime_of(app).db.session() as db:
        for email, role in (("admin@ngo.la", "admin"), ("noy@ngo.la", "organiser")):
            accounts.add(db, email, PASSWORD, role, language="en")
        add_member(db, "+8562055512345", name="Noy", language="en")
    return app


def test_the_preview_says_it_waits_and_an_organiser_cannot_hurry_it(make_app):
    app = _app(make_app)
    organiser = signed_in(app)
    made = post(organiser, "/broadcasts/new", {"text_en": "Hello {name}"})
    page = organiser.get(made.location).get_data(as_text=True)
    assert "Quiet hours: it waits until" in page and ("today" in page or "tomorrow" in page)
    assert 'name="urgent"' not in page
    post(organiser, made.location + "/send", {"confirm": "yes", "urgent": "yes"})  # ignored: not hers to decide
    drain(app)
    with runtime_of(app).db.session() as db:
        row = db.scalar(select(Broadcast))
        assert not row.urgent and row.send_after is not None
        assert {m.status for m in db.scalars(select(OutboundMessage))} == {"queued"}
        assert (
            db.scalar(select(AuditEvent.action).where(AuditEvent.action.like("broadcast.%send%"))) == "broadcast.send"
        )


def test_an_admin_sends_urgently_now_and_it_is_audited(make_app):
    app = _app(make_app)
    admin = signed_in(app, "admin@ngo.la")
    made = post(admin, "/broadcasts/new", {"text_en": "Flood warning: stay home, {name}"})
    assert 'name="urgent"' in admin.get(made.location).get_data(as_text=True)
    post(admin, made.location + "/send", {"confirm": "yes", "urgent": "yes"})
    drain(app)
    with runtime_of(app).db.session() as db:
        row = db.scalar(select(Broadcast))
        assert row.urgent and row.send_after is None
        assert [m.status for m in db.scalars(select(OutboundMessage))] == ["sent"]
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "broadcast.urgent"))
        assert event.actor == "admin@ngo.la" and "quiet hours" in event.detail
    assert reconciler.reconcile(runtime_of(app).services)["requeued"] == 0


def test_the_cli_says_it_waits_and_urgent_sends_now(make_app, run, monkeypatch):
    app = _app(make_app)
    monkeypatch.setenv("QUIET_HOURS", _quiet_now())
    waiting = run("broadcast", "send", "--audience", "all", "--text", "en", "Hi", "--yes")
    assert "quiet hours: it waits until" in waiting.output
    now = run("broadcast", "send", "--audience", "all", "--text", "en", "Now", "--yes", "--urgent")
    assert now.exit_code == 0 and "sending starts now" in now.output
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(AuditEvent.action).where(AuditEvent.action == "broadcast.urgent")) is not None
