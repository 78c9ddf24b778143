"""SMS through Android phones (SMS Gateway for Android): the official client against
a fake phone that speaks the app's API, and webhooks signed as the app signs them."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.providers.android import signature
from gateway.runtime import runtime_of
from gateway.store.models import InboundMessage, OutboundMessage

from .fake_android import FakeAndroidPhone
from .fakes import drain
from .helpers import add_member, add_session

MEMBER = "+8562055560001"
KEY = "sign-key"


@pytest.fixture
def phone():
    fake = FakeAndroidPhone(signing_key=KEY)
    yield fake
    fake.stop()


@pytest.fixture
def android_app(make_app, phone):
    return make_app(
        sms_provider="android",
        android_api_url=phone.url,
        android_username="sms",
        android_password="secret",
        android_signing_key=KEY,
        quiet_hours="off",
        provider_timeout_ms=700,
    )


def received(text, number=MEMBER):
    return {
        "messageId": "c0ffee",
        "message": text,
        "phoneNumber": number,
        "simNumber": 1,
        "receivedAt": "2026-11-30T10:00:00.000+07:00",
    }


def outbox_rows(app):
    with runtime_of(app).db.session() as db:
        return list(db.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_a_text_to_the_phone_is_answered_through_the_phone_at_reply_priority(android_app, phone):
    client = android_app.test_client()
    assert phone.post(client, "sms:received", received("HELP")).status_code == 200
    drain(android_app)
    [sent] = phone.sent
    [row] = outbox_rows(android_app)
    assert sent["to"] == [MEMBER] and sent["text"].startswith("ສົ່ງຄຳວ່າ: ສະໝັກ")
    assert sent["id"] == f"og-{row.id}" and sent["priority"] >= 100 and sent["ttl"] is None
    assert (row.status, row.provider, row.provider_message_id) == ("sent", "android", f"og-{row.id}")


def test_a_retried_event_counts_once_and_a_retry_of_a_send_is_not_sent_twice(android_app, phone):
    client = android_app.test_client()
    for _ in range(3):  # the phone retries an event it got no 2xx for: same event id
        assert phone.post(client, "sms:received", received("JOIN"), event_id="evt-1").status_code == 200
    with runtime_of(android_app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1
    provider = runtime_of(android_app).provider
    for _ in range(2):  # our retry after a lost answer carries the same id
        [outcome] = provider.send("ສະບາຍດີ", [MEMBER], ids=["og-999"], urgent=True)
        assert outcome.accepted
    assert [s["id"] for s in phone.sent].count("og-999") == 1 and phone.refused_repeats == 1


def test_a_late_answer_is_unknown_not_resent(android_app, phone):
    phone.script = ["timeout"]  # the phone takes it, the answer comes after we gave up
    android_app.test_client()
    phone.post(android_app.test_client(), "sms:received", received("HELP"))
    drain(android_app)
    [row] = outbox_rows(android_app)
    assert row.status == "unknown" and len(phone.sent) == 1
    report = {"messageId": f"og-{row.id}", "phoneNumber": MEMBER, "deliveredAt": "2026-11-30T10:00:01+07:00"}
    phone.post(android_app.test_client(), "sms:delivered", report)
    assert outbox_rows(android_app)[0].status == "delivered"  # the phone's report settles it


def test_reports_move_the_row_forward_only(android_app, phone):
    client = android_app.test_client()
    phone.post(client, "sms:received", received("HELP"))
    drain(android_app)
    [row] = outbox_rows(android_app)
    for event, payload, status in [
        ("sms:delivered", {"deliveredAt": "2026-11-30T10:00:02+07:00"}, "delivered"),
        ("sms:sent", {"sentAt": "2026-11-30T10:00:01+07:00"}, "delivered"),  # late: no step back
        ("sms:failed", {"failedAt": "x", "reason": "RESULT_ERROR_GENERIC_FAILURE"}, "delivered"),
    ]:
        payload = {"messageId": f"og-{row.id}", "phoneNumber": MEMBER, **payload}
        assert phone.post(client, event, payload).status_code == 200
        assert outbox_rows(android_app)[0].status == status


def test_bad_signatures_old_timestamps_and_bad_json_change_nothing(android_app, phone):
    client = android_app.test_client()
    body, headers = phone.event("sms:received", received("JOIN"))
    for bad in (
        {**headers, "X-Signature": "0" * 64},
        {**headers, "X-Signature": ""},
        {k: v for k, v in headers.items() if k != "X-Timestamp"},
    ):
        assert client.post("/sms/android", data=body, headers=bad).status_code == 403
    assert client.post("/sms/android", data=body + b" ", headers=headers).status_code == 403  # tampered
    old = str(int(time.time()) - 301)
    stale = {**headers, "X-Timestamp": old, "X-Signature": signature.sign(KEY, body, old)}
    assert client.post("/sms/android", data=stale, headers=stale).status_code == 403
    for raw in (b"{not json", b"[1, 2]", json.dumps({"event": "sms:received", "id": "x", "payload": {}}).encode()):
        now = str(int(time.time()))
        signed = {**headers, "X-Timestamp": now, "X-Signature": signature.sign(KEY, raw, now)}
        assert client.post("/sms/android", data=raw, headers=signed).status_code == 400
    assert phone.post(client, "mms:received", {"x": 1}).status_code == 200  # not ours: ignored
    assert phone.post(client, "system:ping", {"health": "pass"}).status_code == 200
    with runtime_of(android_app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 0
    assert outbox_rows(android_app) == []


def test_stop_and_keywords_work_over_the_phone_too(android_app, phone):
    with runtime_of(android_app).db.session() as db:
        add_member(db, MEMBER, language="en")
    client = android_app.test_client()
    phone.post(client, "sms:received", received("STOP"))
    phone.post(client, "sms:received", received("HELP"))
    drain(android_app)
    assert [s["text"] for s in phone.sent] == [
        "You will get no more messages from us. Text START to receive them again."
    ]


@pytest.fixture
def three_phones():
    fakes = [FakeAndroidPhone(signing_key=KEY, planned_rate=4, window_s=2) for _ in range(3)]
    yield fakes
    for fake in fakes:
        fake.stop()


def test_a_broadcast_spreads_over_the_phones_each_at_its_rate(make_app, three_phones):
    app = make_app(
        sms_provider="android",
        android_api_url=three_phones[0].url,
        android_phones=",".join(f.url for f in three_phones),
        android_username="sms",
        android_password="secret",
        android_signing_key=KEY,
        android_rate=4,
        android_rate_window=2,
        quiet_hours="off",
    )
    with runtime_of(app).db.session() as db:
        for n in range(24):
            add_member(db, f"+85620555{61000 + n}")
        session = add_session(
            db, starts=(datetime.now(timezone(timedelta(hours=7))) + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
        )
        row = broadcasts.create(db, {"lo": "ເຕືອນ: ພົບກັນມື້ນີ້"}, Audience(), "test", session.id)
    started = time.monotonic()
    bulk.dispatch(runtime_of(app).services, row.id)
    drain(app)
    took = time.monotonic() - started
    counts = [len(f.sent) for f in three_phones]
    assert sum(counts) == 24 and all(c == 8 for c in counts), counts  # in turn
    assert sum(f.over_plan for f in three_phones) == 0  # never over a phone's rate
    assert {s["priority"] for f in three_phones for s in f.sent} == {0}  # bulk: the phones' own pace
    ttls = [s["ttl"] for f in three_phones for s in f.sent]
    assert all(3 * 3600 - 180 <= ttl <= 3 * 3600 for ttl in ttls)  # worth sending until the session
    assert took >= 2.0  # 24 texts at 12 a 2-second window: the second dozen waits a window


def test_a_phone_that_stops_answering_rests_and_the_others_carry_on(make_app, three_phones, people):
    app = make_app(
        sms_provider="android",
        android_api_url=three_phones[0].url,
        android_phones=",".join(f.url for f in three_phones),
        android_username="sms",
        android_password="secret",
        android_signing_key=KEY,
        quiet_hours="off",
    )
    three_phones[1].stop()  # switched off
    provider = runtime_of(app).provider
    outcomes = [provider.send("hi", [f"+85620555{62000 + n}"], ids=[f"og-{n}"], urgent=True)[0] for n in range(6)]
    refused = [o for o in outcomes if not o.accepted]
    assert len(refused) == 1 and refused[0].transient  # refused connection: not sent, retry is safe
    assert len(three_phones[0].sent) + len(three_phones[2].sent) == 5
    outsider = app.test_client().get("/healthz").get_json()
    assert outsider["phones"] == {"in_rotation": 2, "total": 3}  # counts only: no host:port to anyone
    from .test_dashboard_pages import signed_in

    health = signed_in(app).get("/healthz").get_json()
    resting = [p for p in health["phones"] if not p["in_rotation"]]
    assert [p["name"] for p in resting] == [three_phones[1].url.split("://")[1]]
    assert "no answer" in resting[0]["reason"]


def test_setup_registers_the_webhooks_and_the_preview_says_how_long(run, make_app, phone, monkeypatch):
    monkeypatch.setenv("SMS_PROVIDER", "android")
    monkeypatch.setenv("ANDROID_API_URL", phone.url)
    monkeypatch.setenv("ANDROID_USERNAME", "sms")
    monkeypatch.setenv("ANDROID_PASSWORD", "secret")
    monkeypatch.setenv("ANDROID_SIGNING_KEY", KEY)
    monkeypatch.setenv("ANDROID_PHONES", "phone-a,phone-b")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://gw.example.org")
    done = run("phones", "webhooks")
    assert done.exit_code == 0, done.output
    assert {(h["event"], h["url"]) for h in phone.webhooks} == {
        (event, "https://gw.example.org/sms/android")
        for event in ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "system:ping")
    }
    status = run("phones", "status")
    assert status.exit_code == 0 and "phone-a" in status.output and "in rotation" in status.output
    app = make_app()
    with runtime_of(app).db.session() as db:
        for n in range(4000):
            add_member(db, f"+85620{5570000 + n}")
    created = run("broadcast", "create", "--text", "lo", "ສະບາຍດີ")
    assert created.exit_code == 0, created.output
    assert "4,000 messages over 2 phones: about 1 h 40 min" in created.output
