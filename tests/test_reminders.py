"""Session reminders follow their session; the throttle holds bulk to the limit."""

import time
from datetime import datetime, timedelta, timezone

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from gateway import services
from gateway.messaging import jobs, reconciler, reminders
from gateway.messaging.throttle import Throttle
from gateway.runtime import runtime_of
from gateway.store import schedule
from gateway.store.models import Member, Reminder, TrainingSession

from .fakes import FakeAfricasTalking, drain
from .helpers import add_member, add_session


def reminder_rows(app, session_id):
    with runtime_of(app).db.session() as db:
        return [
            (r.offset_minutes, r.due_at, r.status)
            for r in db.scalars(
                select(Reminder).where(Reminder.session_id == session_id).order_by(Reminder.offset_minutes.desc())
            )
        ]


def test_reminders_are_made_moved_and_cancelled_with_their_session(app):
    with runtime_of(app).db.session() as db:
        session_id = add_session(db, starts="2030-01-11 14:00").id
    reminders.schedule(runtime_of(app).services, session_id)
    start = datetime(2030, 1, 11, 7, 0, tzinfo=timezone.utc)  # 14:00 in Vientiane
    assert reminder_rows(app, session_id) == [
        (1440, start - timedelta(days=1), "scheduled"),
        (60, start - timedelta(hours=1), "scheduled"),
    ]
    scheduled = ScheduledJobRegistry(queue=runtime_of(app).queues["default"])
    assert scheduled.count == 2
    with runtime_of(app).db.session() as db:
        db.get(TrainingSession, session_id).starts_at = start + timedelta(hours=1)  # moved to 15:00
    reminders.schedule(runtime_of(app).services, session_id)
    assert [due for _, due, _ in reminder_rows(app, session_id)] == [
        start + timedelta(hours=1) - timedelta(days=1),
        start,
    ]
    with runtime_of(app).db.session() as db:
        db.get(TrainingSession, session_id).cancelled_at = datetime.now(timezone.utc)
    reminders.schedule(runtime_of(app).services, session_id)
    assert {status for _, _, status in reminder_rows(app, session_id)} == {"cancelled"}


def test_a_cancelled_or_moved_reminder_trigger_sends_nothing(app):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055540001")
        session_id = add_session(db, starts="2030-01-11 14:00").id
    [first, _] = reminders.schedule(runtime_of(app).services, session_id)
    services.bind(runtime_of(app).services)
    assert jobs.fire_reminder(first) == "not due, already sent, or cancelled"  # 2030 is not now


@pytest.mark.parametrize(
    "language,reached",
    [
        ("all", ["+8562055540001", "+8562055540002"]),  # a session held in both languages
        ("lo", ["+8562055540001"]),  # a Lao session: not to English members, who cannot find it
    ],
)
def test_a_due_reminder_fires_once_in_each_members_language(make_app, provider_server, language, reached):
    fake = FakeAfricasTalking(provider_server)
    app = make_app(sms_provider="africastalking", at_api_url=fake.url, quiet_hours="off")
    soon = (datetime.now(timezone.utc) + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=7)))
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055540001", language="lo", topics=["nutrition"])
        add_member(db, "+8562055540002", language="en", topics=["nutrition"])
        add_member(db, "+8562055540003", language="en", topics=["wash"])  # another topic group
        session_id = add_session(db, starts=soon.strftime("%Y-%m-%d %H:%M"), language=language).id
        # Next session and the reminder follow one rule: whoever is reminded can find it.
        found = {m.phone: schedule.next_for(db, m) for m in db.scalars(select(Member))}
        finds = sorted(phone for phone, row in found.items() if row is not None and row.id == session_id)
    assert finds == reached
    reminders.schedule(runtime_of(app).services, session_id)
    assert [status for _, _, status in reminder_rows(app, session_id)] == ["missed", "missed"]
    with runtime_of(app).db.session() as db:  # an organiser's 1-hour reminder is now due
        db.execute(
            update(Reminder)
            .where(Reminder.offset_minutes == 60)
            .values(status="scheduled", due_at=datetime.now(timezone.utc))
        )
    assert reconciler.reconcile(runtime_of(app).services)["reminders"] == 1  # the reconciler fires what is due
    reconciler.reconcile(runtime_of(app).services)  # and firing twice sends once
    drain(app)
    messages = sorted((r["to"], r["message"]) for r in fake.requests)
    assert [to for to, _ in messages] == reached
    assert messages[0][1].startswith("ເຕືອນ: ໂພຊະນາການແມ່ ແລະ ເດັກ ຈະເລີ່ມ ")
    if len(messages) > 1:
        assert messages[1][1].startswith("Reminder: Feeding mothers and babies starts ")
        assert messages[1][1].endswith("meet.jit.si/nutrition")


def test_the_throttle_holds_bulk_to_the_segment_limit_but_never_a_reply(app):
    throttle = Throttle(runtime_of(app).redis, "test", per_second=100)
    assert throttle.largest_batch(3, 500) == 33  # three-segment Lao texts: 33 a second
    started = time.monotonic()
    waited = sum(throttle.take(50) for _ in range(5))  # 250 segments at 100 a second
    assert waited > 1.0 and time.monotonic() - started > 1.0
    assert throttle.take(1000, wait=False) == 0.0  # a conversational reply goes at once
    assert Throttle(runtime_of(app).redis, "test", per_second=0).take(10**6) == 0.0


def test_cancelling_a_session_withdraws_a_reminder_waiting_for_quiet_hours(make_app):
    app = make_app(quiet_hours="00:00-23:59")  # everything waits: the reminder is held
    soon = (datetime.now(timezone.utc) + timedelta(hours=3)).astimezone(timezone(timedelta(hours=7)))
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055540001")
        session_id = add_session(db, starts=soon.strftime("%Y-%m-%d %H:%M")).id
    reminders.schedule(runtime_of(app).services, session_id)
    with runtime_of(app).db.session() as db:
        db.execute(
            update(Reminder)
            .where(Reminder.offset_minutes == 60)
            .values(status="scheduled", due_at=datetime.now(timezone.utc))
        )
    reconciler.reconcile(runtime_of(app).services)
    drain(app)  # fires the reminder: its broadcast waits for quiet hours to end
    with runtime_of(app).db.session() as db:
        broadcast_id = db.scalar(select(Reminder.broadcast_id).where(Reminder.offset_minutes == 60))
        db.get(TrainingSession, session_id).cancelled_at = datetime.now(timezone.utc)
    reminders.schedule(runtime_of(app).services, session_id)
    from gateway.messaging import broadcasts

    with runtime_of(app).db.session() as db:
        assert broadcasts.progress(db, broadcast_id)["cancelled"] == 1
        assert broadcasts.progress(db, broadcast_id)["queued"] == 0
    assert {status for _, _, status in reminder_rows(app, session_id)} == {"cancelled"}
