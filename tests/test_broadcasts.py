"""Broadcasts: audience, preview, batched sending through the outbox, cancel, quiet
hours, provider failures, and the crash and scale-out faults, on real parts."""

import collections
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rq import Retry
from rq.registry import ScheduledJobRegistry
from sqlalchemy import insert, select, update

from gateway import broker
from gateway.content.vocabulary import Vocabulary
from gateway.messaging import broadcasts, bulk, reconciler
from gateway.messaging.audience import Audience
from gateway.runtime import runtime_of
from gateway.store.models import Member, MemberTopic, OutboundMessage, utcnow

from .fakes import PROVIDER_TIMEOUT_MS, FakeAfricasTalking, drain
from .helpers import add_member, add_session, wait_until


@pytest.fixture
def fake_at(provider_server):
    return FakeAfricasTalking(provider_server)


@pytest.fixture
def bulk_app(make_app, fake_at, monkeypatch):
    monkeypatch.setattr(broker.jobs, "SEND_RETRY", Retry(max=5, interval=0))
    return make_app(
        sms_provider="africastalking",
        at_api_url=fake_at.url,
        at_username="outreach",
        at_api_key="key",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
        quiet_hours="off",
        bulk_batch_size=100,
    )


def many_members(db, count, *, start=0, language="lo", topic="nutrition", province="bokeo"):
    now = utcnow()
    rows = [
        {
            "phone": f"+85620{start + n:08d}",
            "name": f"Member {start + n}",
            "language": language,
            "province": province,
            "source": "import",
            "consent_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    db.execute(insert(Member), rows)
    ids = db.scalars(select(Member.id).where(Member.phone.in_([r["phone"] for r in rows]))).all()
    db.execute(insert(MemberTopic), [{"member_id": i, "topic": topic} for i in ids])


def new_broadcast(app, texts, spec="all", session_id=None):
    vocabulary = Vocabulary.build(runtime_of(app).services.book, runtime_of(app).services.catalog)
    with runtime_of(app).db.session() as db:
        return broadcasts.create(db, texts, Audience.parse(spec, vocabulary), session_id=session_id).id


def accepted_phones(fake):
    return collections.Counter(p for r in fake.requests for p in r["to"].split(","))


def rows(app):
    with runtime_of(app).db.session() as db:
        return db.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()


# ------------------------------------------------------------------ audience


def test_audience_filters_and_exclusions(app):
    vocabulary = Vocabulary.build(runtime_of(app).services.book, runtime_of(app).services.catalog)
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055530001", topics=["nutrition"], province="bokeo", language="lo")
        add_member(db, "+8562055530002", topics=["wash"], province="saravane", language="en")
        add_member(db, "+8562055530003", topics=["nutrition", "wash"], province="saravane")
        add_member(db, "+8562055530004", registered=False)  # no consent: never in an audience
        gone = add_member(db, "+8562055530005")
        gone.opted_out_at = utcnow()
        enrolled = add_member(db, "+8562055530006", topics=["climate"])
        session = add_session(db, topic="climate")
        from gateway.store.schedule import enrol

        enrol(db, enrolled, session.id, "ussd")

        def phones(spec):
            audience = Audience.parse(spec, vocabulary)
            return [m.phone[-1] for m in db.scalars(audience.members())]

        assert phones("all") == ["1", "2", "3", "6"]
        assert phones("topic=Nutrition") == ["1", "3"]
        assert phones("topic=nutrition,wash;province=ສາລະວັນ") == ["2", "3"]
        assert phones("language=English") == ["2"]
        assert phones(f"session={session.id}") == ["6"]
    for bad, reason in [
        ("topic=cooking", "unknown topic"),
        ("colour=red", "cannot read"),
        ("session=abc", "session's id"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Audience.parse(bad, vocabulary)


def test_texts_are_checked_for_placeholders_and_languages():
    assert broadcasts.check_texts({"en": " Hi {name} ", "lo": ""}, ["lo", "en"]) == {"en": "Hi {name}"}
    for texts, reason in [
        ({"en": ""}, "give the message text"),
        ({"en": "Hi {nmae}"}, r"uses \{nmae\}"),
        ({"en": "Hi {"}, "broken placeholder"),
        ({"fr": "Salut"}, "no language 'fr'"),
    ]:
        with pytest.raises(ValueError, match=reason):
            broadcasts.check_texts(texts, ["lo", "en"])


def test_preview_counts_languages_segments_and_cost(bulk_app):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 3, language="lo")
        many_members(db, 2, start=100, language="en")
    lao = "ກ" * 150  # a 150-character Lao reminder is 3 UCS-2 segments
    broadcast_id = new_broadcast(bulk_app, {"lo": lao, "en": "Hangout on Friday at 14:00"})
    with runtime_of(bulk_app).db.session() as db:
        row = db.get(broadcasts.Broadcast, broadcast_id)
        renderer = broadcasts.renderer_for(db, row, runtime_of(bulk_app).services.catalog, "lo")
        result = broadcasts.preview(db, row, renderer, 0.02, "USD")
    assert [(e.language, e.recipients, e.encoding, e.segments) for e in result.languages] == [
        ("lo", 3, "UCS-2", 9),
        ("en", 2, "GSM-7", 2),
    ]
    assert (result.recipients, result.segments, result.cost) == (5, 11, 0.22)


# ------------------------------------------------------------------- sending


def test_shared_texts_go_in_bulk_requests_and_sending_again_sends_nothing(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 250, language="lo")
        many_members(db, 30, start=1000, language="en")
    broadcast_id = new_broadcast(bulk_app, {"lo": "ສະບາຍດີ ທຸກຄົນ", "en": "Hello everyone"})
    added, batches, when = bulk.dispatch(runtime_of(bulk_app).services, broadcast_id)
    assert (added, when) == (280, None)
    drain(bulk_app)
    sizes = sorted(len(r["to"].split(",")) for r in fake_at.requests)
    assert sum(sizes) == 280 and max(sizes) <= 100 and len(sizes) == 4  # 100+100+50 lo, 30 en
    assert all(r["bulkSMSMode"] == "1" for r in fake_at.requests)
    assert {r.status for r in rows(bulk_app)} == {"sent"}
    assert bulk.dispatch(runtime_of(bulk_app).services, broadcast_id)[:2] == (0, 0)
    drain(bulk_app)
    assert len(fake_at.requests) == 4
    assert max(accepted_phones(fake_at).values()) == 1


def test_personalised_texts_use_name_and_session_in_each_language(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        add_member(db, "+8562055531001", name="ນ້ອຍ", language="lo")
        add_member(db, "+8562055531002", name="Kham", language="en")
        session = add_session(db)
    broadcast_id = new_broadcast(
        bulk_app,
        {"lo": "{name}, {session.title} {session.starts_at}", "en": "{name}: {session.title}, {session.starts_at}"},
        session_id=session.id,
    )
    bulk.dispatch(runtime_of(bulk_app).services, broadcast_id)
    drain(bulk_app)
    assert sorted(r["message"] for r in fake_at.requests) == [
        "Kham: Feeding mothers and babies, Fri 11 Jan, 14:00",
        "ນ້ອຍ, ໂພຊະນາການແມ່ ແລະ ເດັກ ວັນສຸກ ທີ 11 ມັງກອນ ເວລາ 14:00 ໂມງ",
    ]


def test_cancel_stops_unsent_messages(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 120)
    broadcast_id = new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"})
    bulk.dispatch(runtime_of(bulk_app).services, broadcast_id)
    with runtime_of(bulk_app).db.session() as db:
        assert broadcasts.cancel(db, db.get(broadcasts.Broadcast, broadcast_id)) == 120
    drain(bulk_app)
    assert fake_at.requests == []
    assert {r.status for r in rows(bulk_app)} == {"cancelled"}


def test_members_who_opt_out_after_the_send_starts_receive_nothing(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 10)
    bulk.dispatch(runtime_of(bulk_app).services, new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"}))
    with runtime_of(bulk_app).db.session() as db:
        db.execute(update(Member).where(Member.phone == "+8562000000003").values(opted_out_at=utcnow()))
    drain(bulk_app)
    assert "+8562000000003" not in accepted_phones(fake_at)
    assert sorted(r.error or "" for r in rows(bulk_app) if r.status == "failed") == ["opted out"]


def test_quiet_hours_hold_bulk_until_morning(make_app, fake_at):
    app = make_app(sms_provider="africastalking", at_api_url=fake_at.url, quiet_hours="00:00-23:59")
    with runtime_of(app).db.session() as db:
        many_members(db, 5)
    added, batches, when = bulk.dispatch(runtime_of(app).services, new_broadcast(app, {"lo": "ສະບາຍດີ"}))
    assert when is not None and (when.hour, when.minute) == (23, 59)
    queue = runtime_of(app).queues["bulk"]
    assert queue.count == 0 and ScheduledJobRegistry(queue=queue).count == batches == 1
    reconciler.reconcile(runtime_of(app).services)  # its minute check must not send the held batch early
    assert queue.count == 0 and {r.status for r in rows(app)} == {"queued"}


def test_next_allowed_respects_the_window_across_midnight():
    window = (datetime.strptime("21:00", "%H:%M").time(), datetime.strptime("07:00", "%H:%M").time())
    vientiane = ZoneInfo("Asia/Vientiane")
    at = lambda h, m: datetime(2026, 11, 21, h, m, tzinfo=vientiane).astimezone(timezone.utc)  # noqa: E731
    assert broadcasts.next_allowed(at(14, 0), window, "Asia/Vientiane") is None
    assert (
        broadcasts.next_allowed(at(22, 30), window, "Asia/Vientiane").astimezone(vientiane).isoformat()
        == "2026-11-22T07:00:00+07:00"
    )
    assert (
        broadcasts.next_allowed(at(3, 0), window, "Asia/Vientiane").astimezone(vientiane).isoformat()
        == "2026-11-21T07:00:00+07:00"
    )


def test_a_slow_flaky_provider_sends_no_duplicates_and_counts_what_it_accepted(bulk_app, fake_at):
    """30% of requests fail: a 500 (not sent: retried) or a read timeout (sent, but
    the answer is lost: the rows become unknown and are never resent)."""
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 1000)
    random.seed(7)
    fake_at.script = [random.choice(["500", "500", "timeout"]) if random.random() < 0.3 else "ok" for _ in range(60)]
    bulk.dispatch(runtime_of(bulk_app).services, new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"}))
    drain(bulk_app)
    statuses = collections.Counter(r.status for r in rows(bulk_app))
    accepted = accepted_phones(fake_at)
    assert set(statuses) == {"sent", "unknown"} and statuses["unknown"] > 0
    assert max(accepted.values()) == 1  # no member got a second copy
    assert statuses["sent"] + statuses["unknown"] == sum(accepted.values()) == 1000


def test_a_permanent_error_fails_once_and_is_not_retried(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 3)
    fake_at.script = ["403"]
    bulk.dispatch(runtime_of(bulk_app).services, new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"}))
    drain(bulk_app)
    assert [(r.status, r.attempts, r.error) for r in rows(bulk_app)] == [("failed", 1, "403 InvalidPhoneNumber")] * 3
    assert len(fake_at.requests) == 1


# -------------------------------------------------------------------- faults


def worker_env(app, fake_at):
    config = app.config["GATEWAY"]
    return dict(
        os.environ,
        DATABASE_URL=config.sqlalchemy_url,
        REDIS_URL=runtime_of(app).services.redis_url,
        SECRET_KEY=config.secret_key,
        INSTANCE_PATH=str(config.instance_path),
        SMS_PROVIDER="africastalking",
        AT_API_URL=fake_at.url,
        AT_USERNAME="outreach",
        AT_API_KEY="key",
        QUIET_HOURS="off",
        BULK_BATCH_SIZE="50",
        LOG_LEVEL="WARNING",
    )


def start_worker(env, burst=False):
    args = [sys.executable, "-m", "gateway.cli.main", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("personalised", [False, True], ids=["shared text", "personalised"])
def test_sigkill_mid_broadcast_sends_nobody_twice_and_skips_nobody_silently(make_app, fake_at, personalised):
    """A shared text goes 50 recipients to a request; a personalised one is a
    request per member, 8 at a time. Either way a crash leaves at most the
    requests in flight unknown, and the rest of the killed job's rows are sent."""
    app = make_app(
        sms_provider="africastalking",
        at_api_url=fake_at.url,
        quiet_hours="off",
        bulk_batch_size=50,
        sending_timeout=1,
        job_stale_after=1,
    )
    members = 600 if personalised else 2000
    with runtime_of(app).db.session() as db:
        many_members(db, members)
    text = "{name}: ສະບາຍດີ" if personalised else "ສະບາຍດີ"
    bulk.dispatch(runtime_of(app).services, new_broadcast(app, {"lo": text}))
    fake_at.delay = 0.03
    env = worker_env(app, fake_at)
    worker = start_worker(env)
    kill_after = 5 if personalised else 23  # mid-send: several requests in, several to go
    wait_until(lambda: len(fake_at.requests) >= kill_after, 60, f"{kill_after} requests to the provider", 0.005)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and the job it forked, mid-send
    worker.wait()
    assert 0 < len(fake_at.requests) < 40
    finisher = start_worker(env, burst=True)
    assert finisher.wait(timeout=120) == 0
    time.sleep(1.1)  # past SENDING_TIMEOUT, and past the killed job's last heartbeat
    settled = reconciler.reconcile(runtime_of(app).services)
    drain(app)  # the killed job's rows that were never claimed, under its own id
    statuses = collections.Counter(r.status for r in rows(app))
    accepted = accepted_phones(fake_at)
    assert max(accepted.values()) == 1  # zero duplicates at the provider
    assert set(statuses) <= {"sent", "unknown"}  # nobody silently skipped
    in_flight = 8 if personalised else 1  # requests, of one recipient or of 50
    assert statuses["unknown"] == settled["unknown"] <= in_flight * (1 if personalised else 50)
    with runtime_of(app).db.session() as db:
        sent = set(
            db.scalars(
                select(Member.phone)
                .join(OutboundMessage, OutboundMessage.member_id == Member.id)
                .where(OutboundMessage.status == "sent")
            )
        )
    assert sent <= set(accepted) and len(sent) + statuses["unknown"] == members


def test_three_workers_on_one_broadcast_send_one_set(make_app, fake_at):
    app = make_app(sms_provider="africastalking", at_api_url=fake_at.url, quiet_hours="off", bulk_batch_size=50)
    with runtime_of(app).db.session() as db:
        many_members(db, 1500)
    broadcast_id = new_broadcast(app, {"lo": "ສະບາຍດີ"})
    bulk.dispatch(runtime_of(app).services, broadcast_id)
    bulk.dispatch(runtime_of(app).services, broadcast_id)  # an organiser pressing send twice queues jobs twice
    env = worker_env(app, fake_at)
    workers = [start_worker(env, burst=True) for _ in range(3)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0]
    accepted = accepted_phones(fake_at)
    assert len(accepted) == 1500 and max(accepted.values()) == 1
    assert {r.status for r in rows(app)} == {"sent"}


# ------------------------------------------------------- at most once, and honest


def test_the_reconciler_and_status_never_queue_a_batch_twice(bulk_app, fake_at, run):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 250)
    services = runtime_of(bulk_app).services
    broadcast_id = new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"})
    bulk.dispatch(services, broadcast_id)
    queue = services.queues["bulk"]
    queued = sorted(queue.job_ids)
    assert len(queued) == 3
    for _ in range(5):  # an organiser checking on it, and five minutes of reconciler
        assert run("broadcast", "status", str(broadcast_id)).exit_code == 0
        reconciler.reconcile(services)
    assert sorted(queue.job_ids) == queued
    drain(bulk_app)
    accepted = accepted_phones(fake_at)
    assert len(accepted) == 250 and max(accepted.values()) == 1


def test_a_batch_redis_lost_is_queued_again_under_its_own_id(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 150)
    services = runtime_of(bulk_app).services
    bulk.dispatch(services, new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"}))
    queue = services.queues["bulk"]
    queued = sorted(queue.job_ids)
    queue.empty()  # Redis restarted without its data
    assert reconciler.reconcile(services)["requeued"] == 150
    assert sorted(queue.job_ids) == queued
    drain(bulk_app)
    assert {r.status for r in rows(bulk_app)} == {"sent"}
    assert max(accepted_phones(fake_at).values()) == 1


def test_a_row_is_tried_at_most_send_attempts_times_across_all_jobs(bulk_app, make_app, fake_at):
    app = make_app(
        sms_provider="africastalking",
        at_api_url=fake_at.url,
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
        quiet_hours="off",
        send_attempts=2,
    )
    with runtime_of(app).db.session() as db:
        many_members(db, 3)
    fake_at.script = ["500"] * 20
    services = runtime_of(app).services
    bulk.dispatch(services, new_broadcast(app, {"lo": "ສະບາຍດີ"}))
    drain(app)  # the job has five retries, but the rows have two attempts
    assert [(r.status, r.attempts) for r in rows(app)] == [("failed", 2)] * 3
    assert all(r.error.startswith("gave up") for r in rows(app))
    assert reconciler.reconcile(services)["requeued"] == 0
    assert len(fake_at.script) == 18  # two requests in all


def test_a_report_for_an_unknown_row_settles_it_by_number(bulk_app, fake_at):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 2)
    fake_at.script = ["timeout"]
    bulk.dispatch(runtime_of(bulk_app).services, new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"}))
    drain(bulk_app)
    assert [r.status for r in rows(bulk_app)] == ["unknown", "unknown"]
    client = bulk_app.test_client()
    client.post(
        "/status/africastalking",
        data={"id": "ATXid_2", "status": "Failed", "phoneNumber": "+8562000000001", "failureReason": "DeliveryFailure"},
    )
    assert [(r.status, r.provider_message_id) for r in rows(bulk_app)] == [("unknown", None), ("failed", "ATXid_2")]


def test_resend_unknown_says_how_many_and_warns_before_sending_again(bulk_app, fake_at, run):
    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 4)
    fake_at.script = ["timeout"]
    broadcast_id = new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"})
    bulk.dispatch(runtime_of(bulk_app).services, broadcast_id)
    drain(bulk_app)
    too_soon = run("broadcast", "resend-unknown", str(broadcast_id), "--yes")
    assert too_soon.exit_code == 0 and "0 message(s)" in too_soon.output
    with runtime_of(bulk_app).db.session() as db:  # an hour later
        db.execute(update(OutboundMessage).values(updated_at=utcnow() - timedelta(hours=2)))
    declined = run("broadcast", "resend-unknown", str(broadcast_id), input="n\n")
    assert "4 message(s)" in declined.output and "second copy" in declined.output
    assert {r.status for r in rows(bulk_app)} == {"unknown"}
    done = run("broadcast", "resend-unknown", str(broadcast_id), "--yes")
    assert done.exit_code == 0, done.output
    drain(bulk_app)
    assert {r.status for r in rows(bulk_app)} == {"sent"}
    assert max(accepted_phones(fake_at).values()) == 2  # as it warned: a second copy for some


def test_twilio_sends_a_shared_text_a_recipient_a_request_so_at_most_the_requests_in_flight_are_sending(
    make_app, fake_twilio, monkeypatch
):
    """Twilio has no bulk send: a batch of one text is one request per recipient,
    and only the requests in flight (SEND_CONCURRENCY) may be mid-send at once."""
    import threading

    from sqlalchemy import func

    from .fakes import FakeTwilio

    monkeypatch.setattr(broker.jobs, "SEND_RETRY", Retry(max=1, interval=0))
    app = make_app(
        sms_provider="twilio",
        twilio_api_url=fake_twilio.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        quiet_hours="off",
        send_concurrency=2,
        bulk_batch_size=100,
    )
    with runtime_of(app).db.session() as db:
        many_members(db, 30)
    bulk.dispatch(runtime_of(app).services, new_broadcast(app, {"lo": "ສະບາຍດີ"}))
    fake_twilio.delay = 0.05
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            with runtime_of(app).db.session() as db:
                seen.append(
                    db.scalar(
                        select(func.count()).select_from(OutboundMessage).where(OutboundMessage.status == "sending")
                    )
                )
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        drain(app)
    finally:
        done.set()
        watcher.join()
    assert {r.status for r in rows(app)} == {"sent"} and len(fake_twilio.requests) == 30
    assert max(seen) == 2  # two at a time: never the whole batch of 30


def test_quiet_hours_beginning_mid_send_pause_it_until_morning(bulk_app, fake_at):
    """A paced broadcast (Android phones) can take hours: when quiet hours begin,
    the batches not yet sent wait, and the reconciler sends them on afterwards."""
    from dataclasses import replace
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from gateway.messaging import reconciler

    with runtime_of(bulk_app).db.session() as db:
        many_members(db, 250)
    broadcast_id = new_broadcast(bulk_app, {"lo": "ສະບາຍດີ"})
    services = runtime_of(bulk_app).services
    bulk.dispatch(services, broadcast_id)  # three batches queued while it was still day
    awake = services.config
    local = datetime.now(ZoneInfo(awake.timezone))
    night = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=1)):%H:%M}"
    services.config = replace(awake, quiet_hours=night)  # and now quiet hours have begun
    drain(bulk_app)
    assert fake_at.requests == []
    with runtime_of(bulk_app).db.session() as db:
        assert broadcasts.progress(db, broadcast_id)["queued"] == 250  # held, not failed
    services.config = awake  # morning
    reconciler.reconcile(services)
    drain(bulk_app)
    assert sum(accepted_phones(fake_at).values()) == 250 and max(accepted_phones(fake_at).values()) == 1
