"""Reminder calls for members who chose them, retries when nobody answers, the
confirmation on the enrolment, and the missed-call call-back, through fake Twilio
and Africa's Talking voice APIs driven by the official SDKs."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from gateway import services
from gateway.messaging import jobs, reconciler, reminders
from gateway.runtime import runtime_of
from gateway.store.models import Enrolment, Member, OutboundMessage, Reminder

from .fakes import FakeAfricasTalking, FakeAfricasTalkingVoice, FakeTwilio, FakeTwilioCalls, drain
from .helpers import add_member, add_session, twilio_post
from .test_voice import AT_VERBS, BASE, TWILIO_VERBS, heard, parse, recorded_prompts  # noqa: F401

CALLER = "+8562055590001"
TEXTER = "+8562055590002"


@pytest.fixture
def twilio_app(make_app, provider_server, recorded_prompts):  # noqa: F811
    sms, calls = FakeTwilio(provider_server), FakeTwilioCalls(provider_server)
    app = make_app(
        sms_provider="twilio",
        twilio_api_url=sms.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        public_base_url=BASE,
        quiet_hours="off",
        prompts_dir=recorded_prompts,
    )
    app.fakes = (sms, calls)
    return app


def fire_reminder(app) -> int:
    """Members in the topic, a session, and its one-hour reminder fired; returns the session id."""
    with runtime_of(app).db.session() as db:
        add_member(db, CALLER, language="lo").reminder_channel = "voice"
        add_member(db, TEXTER, language="en")
        # held in both languages: the Lao caller and the English texter are both reminded
        session = add_session(db, starts="2030-01-11 14:00", language="all")
        session_id = session.id
        reminders.sync(db, session, [60], now=session.starts_at - timedelta(days=1))
        reminder_id = db.scalar(select(Reminder.id).where(Reminder.kind == "reminder"))
    with runtime_of(app).db.session() as db:
        reminder = db.get(Reminder, reminder_id)
        reminder.due_at = reminder.due_at - timedelta(days=10000)  # due now
    services.bind(runtime_of(app).services)  # the job runs against this app, as a worker would
    assert jobs.fire_reminder(reminder_id).startswith("broadcast")
    drain(app)
    return session_id


def call_row(app) -> OutboundMessage:
    with runtime_of(app).db.session() as db:
        return db.scalar(select(OutboundMessage).where(OutboundMessage.channel == "voice"))


def run_scheduled(app) -> list:
    """Run the jobs RQ holds for later (a retry an hour from now) at once."""
    queue = runtime_of(app).queues["bulk"]
    registry = ScheduledJobRegistry(queue=queue)
    when = [registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()]
    for job_id in registry.get_job_ids():
        registry.remove(job_id)
        queue.enqueue_job(queue.fetch_job(job_id))
    drain(app)
    return when


def test_voice_preferring_members_get_a_call_and_the_rest_an_sms(twilio_app):
    sms, calls = twilio_app.fakes
    fire_reminder(twilio_app)
    assert [r["To"] for r in sms.requests] == [TEXTER]
    assert [r["To"] for r in calls.requests] == [CALLER]
    row = call_row(twilio_app)
    assert calls.requests[0]["Url"] == f"{BASE}/voice/twilio?call={row.id}"
    assert calls.requests[0]["StatusCallback"] == f"{BASE}/status/twilio"
    assert (row.status, row.provider_message_id[:2]) == ("sent", "CA")


def test_answering_plays_the_reminder_and_1_confirms_on_the_enrolment(twilio_app):
    session_id = fire_reminder(twilio_app)
    row = call_row(twilio_app)
    client = twilio_app.test_client()
    form = {
        "CallSid": row.provider_message_id,
        "From": "+15005550006",
        "To": CALLER,
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
        "AccountSid": FakeTwilio.SID,
    }
    path = f"/voice/twilio?call={row.id}"
    first = heard(parse(twilio_post(client, path, form).get_data(as_text=True), TWILIO_VERBS))
    # "Reminder: hangout, <title>, starts Friday 11 January at 14. Confirm, press 1. Hear again, press 2."
    assert first[:2] == ["reminder.call@1", "kind.hangout"]
    assert "time.weekday.4" in first and first[-6:] == [
        "reminder.confirm",
        "voice.press",
        "number.1",
        "reminder.again",
        "voice.press",
        "number.2",
    ]
    again = heard(parse(twilio_post(client, path, {**form, "Digits": "2"}).get_data(as_text=True), TWILIO_VERBS))
    assert again == first
    done = parse(twilio_post(client, path, {**form, "Digits": "1"}).get_data(as_text=True), TWILIO_VERBS)
    assert heard(done) == ["reminder.thanks"] and done.find("Hangup") is not None
    with runtime_of(twilio_app).db.session() as db:
        enrolment = db.scalar(select(Enrolment).join(Member).where(Member.phone == CALLER))
        assert enrolment.session_id == session_id and enrolment.confirmed_at is not None
    status = twilio_post(
        client,
        "/status/twilio",
        {"CallSid": row.provider_message_id, "CallStatus": "completed", "AccountSid": FakeTwilio.SID},
    )
    assert status.status_code == 200 and call_row(twilio_app).status == "delivered"


def test_no_answer_and_busy_are_tried_again_an_hour_later_then_given_up(twilio_app):
    _, calls = twilio_app.fakes
    fire_reminder(twilio_app)
    client = twilio_app.test_client()
    for attempt, status in enumerate(["no-answer", "busy", "no-answer"], start=1):
        row = call_row(twilio_app)
        assert len(calls.requests) == attempt and row.attempts == attempt
        twilio_post(
            client,
            "/status/twilio",
            {"CallSid": row.provider_message_id, "CallStatus": status, "AccountSid": FakeTwilio.SID},
        )
        if attempt < 3:
            assert call_row(twilio_app).status == "waiting"
            reconciler.reconcile(runtime_of(twilio_app).services)  # its minute check must not call early
            drain(twilio_app)
            assert len(calls.requests) == attempt
            [when] = run_scheduled(twilio_app)
            delay = when.timestamp() - row.updated_at.timestamp()
            assert 55 * 60 < delay < 65 * 60  # VOICE_RETRY_MINUTES
    final = call_row(twilio_app)
    assert (final.status, final.error, len(calls.requests)) == ("failed", "not answered", 3)


def test_a_retry_waits_for_quiet_hours_to_end(twilio_app, make_app):
    _, calls = twilio_app.fakes
    fire_reminder(twilio_app)
    quiet = make_app(
        sms_provider="twilio",
        twilio_api_url=calls.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        public_base_url=BASE,
        quiet_hours="00:00-23:59",
    )
    twilio_post(
        quiet.test_client(),
        "/status/twilio",
        {"CallSid": call_row(twilio_app).provider_message_id, "CallStatus": "no-answer", "AccountSid": FakeTwilio.SID},
    )
    registry = ScheduledJobRegistry(queue=runtime_of(quiet).queues["bulk"])
    [job_id] = registry.get_job_ids()
    local = registry.get_scheduled_time(job_id).astimezone(ZoneInfo("Asia/Vientiane"))
    assert (local.hour, local.minute) == (23, 59)


def test_africas_talking_reminder_call_and_its_end_of_call_status(make_app, provider_server, recorded_prompts):  # noqa: F811
    sms, voice = FakeAfricasTalking(provider_server), FakeAfricasTalkingVoice(provider_server)
    app = make_app(
        sms_provider="africastalking",
        at_api_url=sms.url,
        at_voice_url=voice.url,
        at_voice_number="+85621000000",
        at_username="outreach",
        at_api_key="key",
        at_webhook_token="tok",
        public_base_url=BASE,
        quiet_hours="off",
        prompts_dir=recorded_prompts,
    )
    fire_reminder(app)
    assert [(r["from"], r["to"], r["username"]) for r in voice.requests] == [("+85621000000", CALLER, "outreach")]
    row = call_row(app)
    client = app.test_client()
    form = {
        "sessionId": row.provider_message_id,
        "direction": "Outbound",
        "isActive": "1",
        "callerNumber": "+85621000000",
        "destinationNumber": CALLER,
    }
    answered = parse(client.post("/voice/africastalking?token=tok", data=form).get_data(as_text=True), AT_VERBS)
    assert heard(answered)[:2] == ["reminder.call@1", "kind.hangout"]
    ended = {**form, "isActive": "0", "status": "NotAnswered", "hangupCause": "NO_ANSWER", "durationInSeconds": "0"}
    assert client.post("/voice/africastalking?token=tok", data=ended).status_code == 200
    assert call_row(app).status == "waiting"
    run_scheduled(app)
    assert len(voice.requests) == 2


def test_a_missed_call_is_rejected_and_called_back_once(twilio_app, make_app):
    _, calls = twilio_app.fakes
    app = make_app(
        sms_provider="twilio",
        twilio_api_url=calls.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        public_base_url=BASE,
        missed_call_callback="on",
        prompts_dir=twilio_app.config["GATEWAY"].prompts_dir,
    )
    with runtime_of(app).db.session() as db:
        add_member(db, CALLER, language="lo")
    client = app.test_client()
    for sid in ("CA" + "7" * 32, "CA" + "8" * 32):  # she rings twice
        ring = {
            "CallSid": sid,
            "From": CALLER,
            "To": "+15005550006",
            "Direction": "inbound",
            "CallStatus": "ringing",
            "AccountSid": FakeTwilio.SID,
        }
        root = parse(twilio_post(client, "/voice/twilio", ring).get_data(as_text=True), TWILIO_VERBS)
        assert [e.tag for e in root] == ["Reject"]
    replies = runtime_of(app).queues["replies"]
    registry = ScheduledJobRegistry(queue=replies)
    assert registry.count == 1  # one call-back, not two
    for job_id in registry.get_job_ids():
        registry.remove(job_id)
        replies.enqueue_job(replies.fetch_job(job_id))
    drain(app)
    [placed] = calls.requests
    row = call_row(app)
    assert placed["To"] == CALLER and placed["Url"] == f"{BASE}/voice/twilio?call={row.id}"
    answered = {
        "CallSid": row.provider_message_id,
        "From": "+15005550006",
        "To": CALLER,
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
        "AccountSid": FakeTwilio.SID,
    }
    root = parse(twilio_post(client, f"/voice/twilio?call={row.id}", answered).get_data(as_text=True), TWILIO_VERBS)
    assert heard(root)[:2] == ["main.menu", "main.next_session"]


def test_with_call_back_off_a_call_is_answered(twilio_app):
    with runtime_of(twilio_app).db.session() as db:
        add_member(db, CALLER, language="lo")
    ring = {
        "CallSid": "CA" + "9" * 32,
        "From": CALLER,
        "To": "+15005550006",
        "Direction": "inbound",
        "CallStatus": "ringing",
        "AccountSid": FakeTwilio.SID,
    }
    root = parse(twilio_post(twilio_app.test_client(), "/voice/twilio", ring).get_data(as_text=True), TWILIO_VERBS)
    assert root.find("Gather") is not None and root.find("Reject") is None


def test_a_cancelled_session_is_not_confirmed_on_the_call(twilio_app):
    fire_reminder(twilio_app)
    row = call_row(twilio_app)
    with runtime_of(twilio_app).db.session() as db:
        reminders.session_for_message(db, row.id).cancelled_at = row.created_at
    form = {
        "CallSid": row.provider_message_id,
        "From": "+15005550006",
        "To": CALLER,
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
        "AccountSid": FakeTwilio.SID,
    }
    root = parse(
        twilio_post(twilio_app.test_client(), f"/voice/twilio?call={row.id}", form).get_data(as_text=True), TWILIO_VERBS
    )
    assert heard(root) == ["reminder.gone"]


def test_a_retry_whose_job_redis_lost_is_rescheduled_by_the_reconciler(twilio_app):
    from sqlalchemy import update

    _, calls = twilio_app.fakes
    fire_reminder(twilio_app)
    row = call_row(twilio_app)
    with runtime_of(twilio_app).db.session() as db:  # waiting for 2 hours, and no job in Redis
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == row.id)
            .values(status="waiting", updated_at=row.updated_at - timedelta(hours=2))
        )
    reconciler.reconcile(runtime_of(twilio_app).services)
    drain(twilio_app)
    assert len(calls.requests) == 2 and call_row(twilio_app).status == "sent"


def test_somleng_works_by_pointing_twilio_api_url_at_it(twilio_app):
    """Somleng (an open-source Twilio-compatible API, run with local operators) needs
    no code: TWILIO_API_URL is its base URL, for texts and for calls alike. The fakes
    here stand at that URL, so every request below went to "Somleng", none elsewhere."""
    sms, calls = twilio_app.fakes
    assert runtime_of(twilio_app).provider.client.api.base_url == sms.url
    fire_reminder(twilio_app)
    assert [r["To"] for r in sms.requests] == [TEXTER]  # a text, through Messages.json
    assert [r["To"] for r in calls.requests] == [CALLER]  # a call, through Calls.json
