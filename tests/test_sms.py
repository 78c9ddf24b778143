"""SMS over both providers: keywords, conversations, STOP/START, dedupe, signatures,
delivery reports and provider failures, with the official SDKs talking to local fakes."""

import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from gateway import services
from gateway.channels.sms import keywords
from gateway.messaging import jobs
from gateway.runtime import runtime_of
from gateway.store import members
from gateway.store.models import InboundMessage, Member, OutboundMessage

from .fakes import PROVIDER_TIMEOUT_MS, FakeTwilio, drain
from .helpers import PHONE, add_member, add_session, at_text, tw_text, twilio_post


def sent_bodies(app, phone=PHONE):
    with runtime_of(app).db.session() as db:
        member = members.by_phone(db, phone)
        return (
            [
                m.body
                for m in db.scalars(
                    select(OutboundMessage).where(OutboundMessage.member_id == member.id).order_by(OutboundMessage.id)
                )
            ]
            if member
            else []
        )


def outbox(app):
    with runtime_of(app).db.session() as db:
        return db.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()


# ------------------------------------------------------------------ keywords


@pytest.mark.parametrize(
    "typed,keyword",
    [
        ("JOIN", "join"),
        ("register", "join"),
        (" ສະໝັກ ", "join"),
        ("ລົງທະບຽນ", "join"),
        ("next", "next"),
        ("ຕໍ່ໄປ", "next"),
        ("Quiz", "quiz"),
        ("ທົດສອບ", "quiz"),
        ("HELP", "help"),
        ("ຊ່ວຍເຫຼືອ", "help"),
        ("lang", "lang"),
        ("ພາສາ", "lang"),
        ("STOP", "stop"),
        ("s t o p", "stop"),
        ("Stop.", "stop"),
        ("ຢຸດ", "stop"),
        ("START", "start"),
        ("ເລີ່ມ", "start"),
        ("please stop", None),
        ("1", None),
        ("", None),
    ],
)
def test_keywords_in_english_and_lao(typed, keyword):
    assert keywords.match(typed) == keyword


# ------------------------------------------------------------ conversations


def test_join_walks_registration_one_sms_at_a_time_over_africastalking(at_app, fake_at):
    client = at_app.test_client()
    for text in ["ສະໝັກ", "ນ້ອຍ", "0", "2", "7", "1", "1"]:
        assert at_text(client, text).status_code == 200
    bodies = sent_bodies(at_app)
    assert bodies[0].startswith("ຍິນດີຕ້ອນຮັບ! ກະລຸນາພິມຊື່ຂອງທ່ານ:") and "(English: 0)" in bodies[0]
    assert bodies[2].startswith("ທ່ານຢູ່ພາກໃດ?")
    assert "ແຂວງໃດ?" in bodies[3] and "7. ສະຫວັນນະເຂດ" in bodies[3]  # one SMS, no paging
    assert bodies[-1] == "ຂອບໃຈ ນ້ອຍ! ລົງທະບຽນແລ້ວ. ຫົວຂໍ້: ໂພຊະນາການ"  # no "1. Continue" text
    with runtime_of(at_app).db.session() as db:
        member = members.by_phone(db, PHONE)
        assert (member.registered, member.province, member.topics) == (True, "savannakhet", ["nutrition"])
    assert drain(at_app) == len(bodies)
    assert [r["message"] for r in fake_at.requests] == bodies
    assert {r["to"] for r in fake_at.requests} == {PHONE}
    assert fake_at.requests[0]["bulkSMSMode"] == "1" and fake_at.requests[0]["from"] == "OUTREACH"
    rows = outbox(at_app)
    assert {r.status for r in rows} == {"sent"} and all(r.provider_message_id.startswith("ATXid_") for r in rows)
    assert rows[0].encoding == "UCS-2" and rows[0].segments == 1


def test_next_needs_registration_then_shows_the_session(at_app):
    client = at_app.test_client()
    at_text(client, "NEXT")
    assert sent_bodies(at_app) == ["ກະລຸນາລົງທະບຽນກ່ອນ: ສົ່ງຄຳວ່າ ສະໝັກ."]
    with runtime_of(at_app).db.session() as db:
        add_member(db, "+8562055520002", language="en")
        add_session(db, language="en", title_en="Feeding babies well")
    at_text(client, "next", phone="+8562055520002")
    [body] = sent_bodies(at_app, "+8562055520002")
    assert body.startswith("Hangout: Feeding babies well\nFri 11/1 14:00") and "1. Sign up" in body


def test_unknown_text_gets_help_once_a_day(at_app):
    client = at_app.test_client()
    at_text(client, "hello?")
    at_text(client, "anyone there?")
    assert sent_bodies(at_app) == [
        "ສົ່ງຄຳວ່າ: ສະໝັກ = ລົງທະບຽນ · ຕໍ່ໄປ = ກິດຈະກຳຕໍ່ໄປ · ທົດສອບ = ທົດສອບຄວາມຮູ້ · ພາສາ = ປ່ຽນພາສາ · ຢຸດ = ຢຸດຮັບຂໍ້ຄວາມ"
    ]


def test_stop_silences_every_message_until_start(at_app, fake_at):
    client = at_app.test_client()
    with runtime_of(at_app).db.session() as db:
        add_member(db, PHONE, language="en")
    at_text(client, "stop")
    at_text(client, "NEXT")
    at_text(client, "HELP")
    assert sent_bodies(at_app) == ["You will get no more messages from us. Text START to receive them again."]
    with runtime_of(at_app).db.session() as db:
        assert members.by_phone(db, PHONE).opted_out_at is not None
    at_text(client, "START")
    with runtime_of(at_app).db.session() as db:
        member = members.by_phone(db, PHONE)
        assert member.opted_out_at is None and member.opted_in_at is not None
    assert sent_bodies(at_app)[-1].startswith("Welcome back!")
    drain(at_app)
    assert len(fake_at.requests) == 2  # the STOP confirmation and the START reply only


def test_lao_stop_from_a_stranger_is_remembered(at_app):
    at_text(at_app.test_client(), "ຢຸດ", phone="+8562055520003")
    with runtime_of(at_app).db.session() as db:
        member = members.by_phone(db, "+8562055520003")
        assert member.opted_out_at is not None and not member.registered


# --------------------------------------------------------------------- dedupe


def test_the_same_message_delivered_again_is_processed_once(at_app):
    client = at_app.test_client()
    for _ in range(3):
        assert at_text(client, "HELP", message_id="ATXid_same").status_code == 200
    assert len(sent_bodies(at_app)) == 1


def test_concurrent_copies_are_processed_once(at_app):
    def send():
        with at_app.test_client() as client:
            at_text(client, "HELP", message_id="ATXid_concurrent")

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with runtime_of(at_app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert len(sent_bodies(at_app)) == 1


# --------------------------------------------------------------- authenticity


def test_africastalking_token_guards_sms_and_status(make_app):
    app = make_app(at_webhook_token="tok")
    client = FlaskClient(app)  # posts exactly what it is given: no token added
    assert at_text(client, "HELP").status_code == 403
    assert at_text(client, "HELP", token="nope").status_code == 403
    assert client.post("/status/africastalking", data={"id": "x", "status": "Success"}).status_code == 403
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 0
        assert db.scalar(select(func.count()).select_from(Member)) == 0
    assert at_text(client, "HELP", token="tok").status_code == 200


def test_twilio_signatures_valid_tampered_missing_and_behind_a_proxy(tw_app):
    client = tw_app.test_client()
    form = {"From": PHONE, "To": "+15005550006", "Body": "HELP", "MessageSid": "SMsig1"}
    assert twilio_post(client, "/sms/twilio", form).status_code == 200  # signed over the public URL
    tampered = dict(form, Body="STOP")
    signature = RequestValidator("tw-secret").compute_signature("https://gw.example.org/sms/twilio", form)
    response = client.post("/sms/twilio", data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403 and b"<Response />" in response.data
    assert twilio_post(client, "/sms/twilio", dict(form, MessageSid="SMsig2"), sign=False).status_code == 403
    # Signed over the internal address the proxy forwarded to: not what Twilio called.
    local = twilio_post(client, "/sms/twilio", dict(form, MessageSid="SMsig3"), base="http://localhost")
    assert local.status_code == 403
    assert twilio_post(client, "/sms/twilio", form, token="wrong-token").status_code == 403
    assert len(sent_bodies(tw_app)) == 1


def test_twilio_conversation_and_send(tw_app, fake_twilio):
    client = tw_app.test_client()
    assert tw_text(client, "JOIN").status_code == 200
    assert tw_text(client, "0").data.endswith(b"<Response />")
    drain(tw_app)
    assert [r["Body"] for r in fake_twilio.requests][1] == "Welcome! Please type your name:\n(ພາສາລາວ: 0)"
    assert fake_twilio.requests[0]["StatusCallback"] == "https://gw.example.org/status/twilio"
    assert all(r.status == "sent" and r.provider_message_id.startswith("SM") for r in outbox(tw_app))


# ------------------------------------------------------------ delivery reports


def test_africastalking_delivery_reports_move_rows_forward_only(at_app):
    client = at_app.test_client()
    at_text(client, "HELP")
    drain(at_app)
    [row] = outbox(at_app)
    report = {"id": row.provider_message_id, "phoneNumber": PHONE, "networkCode": "45701"}
    assert client.post("/status/africastalking", data=dict(report, status="Buffered")).status_code == 200
    assert outbox(at_app)[0].status == "sent"
    client.post("/status/africastalking", data=dict(report, status="Success"))
    assert outbox(at_app)[0].status == "delivered"
    client.post("/status/africastalking", data=dict(report, status="Failed", failureReason="DeliveryFailure"))
    assert outbox(at_app)[0].status == "delivered"  # a final state never moves back
    unknown = client.post("/status/africastalking", data={"id": "ATXid_nobody", "status": "Success"})
    assert unknown.status_code == 200


def test_twilio_status_callback_and_21610_opt_out(tw_app):
    client = tw_app.test_client()
    tw_text(client, "HELP")
    drain(tw_app)
    [row] = outbox(tw_app)
    callback = {
        "MessageSid": row.provider_message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
        "AccountSid": FakeTwilio.SID,
    }
    assert twilio_post(client, "/status/twilio", callback).status_code == 200
    assert outbox(tw_app)[0].status == "failed"
    with runtime_of(tw_app).db.session() as db:
        assert members.by_phone(db, PHONE).opted_out_at is not None
    assert twilio_post(client, "/status/twilio", callback, sign=False).status_code == 403


def test_africastalking_bulk_opt_out_notification(at_app):
    with runtime_of(at_app).db.session() as db:
        add_member(db, PHONE)
    at_app.test_client().post("/status/africastalking", data={"senderId": "OUTREACH", "phoneNumber": PHONE})
    with runtime_of(at_app).db.session() as db:
        assert members.by_phone(db, PHONE).opted_out_at is not None


# ------------------------------------------------------------ provider failures


def test_africastalking_500s_are_retried_and_a_timeout_is_never_resent(at_app, fake_at):
    fake_at.script = ["500", "timeout"]  # not sent; then sent, but the answer is lost
    at_text(at_app.test_client(), "HELP")
    drain(at_app)
    [row] = outbox(at_app)
    assert (row.status, row.attempts) == ("unknown", 2)
    assert len(fake_at.requests) == 1  # the member got it once, and only once
    # Its delivery report names the number: the row is settled after all.
    at_app.test_client().post(
        "/status/africastalking",
        data={"id": "ATXid_1", "status": "Success", "phoneNumber": PHONE, "networkCode": "45701"},
    )
    [row] = outbox(at_app)
    assert (row.status, row.provider_message_id) == ("delivered", "ATXid_1")


def test_twilio_500s_are_retried_and_a_timeout_is_never_resent(tw_app, fake_twilio):
    fake_twilio.script = ["500", "timeout"]
    tw_text(tw_app.test_client(), "HELP")
    drain(tw_app)
    [row] = outbox(tw_app)
    assert (row.status, row.attempts) == ("unknown", 2)
    assert len(fake_twilio.requests) == 1
    sid = f"SM{1:032d}"
    twilio_post(
        tw_app.test_client(),
        "/status/twilio",
        {"MessageSid": sid, "MessageStatus": "delivered", "To": PHONE, "AccountSid": FakeTwilio.SID},
    )
    [row] = outbox(tw_app)
    assert (row.status, row.provider_message_id) == ("delivered", sid)


def test_africastalking_blacklist_fails_once_and_opts_out(at_app, fake_at):
    fake_at.script = ["406"]
    at_text(at_app.test_client(), "HELP")
    drain(at_app)
    [row] = outbox(at_app)
    assert (row.status, row.attempts, row.error) == ("failed", 1, "406 UserInBlacklist")
    assert len(fake_at.requests) == 1
    with runtime_of(at_app).db.session() as db:
        assert members.by_phone(db, PHONE).opted_out_at is not None


def test_twilio_permanent_errors_are_not_retried(tw_app, fake_twilio):
    fake_twilio.script = ["21610"]
    tw_text(tw_app.test_client(), "HELP")
    tw_text(tw_app.test_client(), "QUIZ", phone="+8562055520009")
    fake_twilio.script = ["21610", "21211"]
    drain(tw_app)
    rows = outbox(tw_app)
    assert [(r.status, r.attempts, r.error) for r in rows] == [("failed", 1, "21610"), ("failed", 1, "21211")]
    with runtime_of(tw_app).db.session() as db:
        assert members.by_phone(db, PHONE).opted_out_at is not None
        assert members.by_phone(db, "+8562055520009").opted_out_at is None


def test_a_claimed_row_is_never_sent_twice(at_app, fake_at):
    at_text(at_app.test_client(), "HELP")
    [row] = outbox(at_app)
    services.bind(runtime_of(at_app).services)
    assert jobs.send_message(row.id) == "sent"
    assert jobs.send_message(row.id).startswith("not claimed")  # a duplicate job
    assert len(fake_at.requests) == 1


def test_no_phone_number_in_logs_job_arguments_or_redis(at_app, fake_at, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client = at_app.test_client()
    for text in ["JOIN", "0", "Noy", "0", "1", "1", "1 3", "1", "STOP", "START", "hello"]:
        at_text(client, text)
    at_text(client, "HELP", phone="+8562055520077")
    fake_at.script = ["406"]
    redis = runtime_of(at_app).redis
    job_args = [job.args for q in runtime_of(at_app).queues.values() for job in q.jobs]

    def ids(argument):  # a row id, or a batch of them (the inbox's replies)
        return isinstance(argument, int) or (isinstance(argument, list) and all(isinstance(i, int) for i in argument))

    assert job_args and all(all(ids(a) for a in args) for args in job_args)
    drain(at_app)
    for number in (PHONE, "+8562055520077"):
        digits = number.lstrip("+")
        local = "0" + digits[3:]
        for key in redis.keys("*"):
            text = key.decode("utf-8", "replace")
            if redis.type(key) == b"string":
                text += redis.get(key).decode("utf-8", "replace")
            elif redis.type(key) == b"hash":
                text += str(redis.hgetall(key))
            assert digits not in text and digits[3:] not in text and local not in text, key
        assert digits not in caplog.text and digits[3:] not in caplog.text
    assert "*********077" in caplog.text or "**********001" in caplog.text


def test_stop_mid_registration_answers_in_the_language_she_chose(at_app):
    client = at_app.test_client()
    for text in ["JOIN", "0", "Noy", "STOP"]:
        at_text(client, text)
    assert sent_bodies(at_app)[-1] == "You will get no more messages from us. Text START to receive them again."


def test_lao_confirmations_fit_one_sms(app):
    from gateway.encoding import sms_size

    catalog = runtime_of(app).services.catalog
    for key in ("sms.stopped", "sms.started", "sms.register_first"):
        assert sms_size(catalog.template("lo", key)).segments == 1, key


def test_two_different_texts_at_once_keep_one_consistent_conversation(at_app):
    client = at_app.test_client()
    for text in ["JOIN", "0"]:
        at_text(client, text)

    def send(text):
        with at_app.test_client() as c:
            at_text(c, text)

    threads = [threading.Thread(target=send, args=(t,)) for t in ("Noy", "Kham")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = sent_bodies(at_app)
    # One became the name; the other answered the next question (organisation).
    assert bodies[-2] == "Your organisation? (Type 0 if none)"
    assert bodies[-1].startswith("Which part of Laos do you live in?")


def test_a_spent_retry_budget_fails_the_row_instead_of_stranding_it(at_app, fake_at):
    fake_at.script = ["500"] * 4  # one try plus three retries (the tests' budget)
    at_text(at_app.test_client(), "HELP")
    drain(at_app)
    [row] = outbox(at_app)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.error.startswith("gave up after retries")


def test_an_invalid_sender_gets_no_member_and_no_reply_and_is_logged_masked(at_app, fake_at, caplog):
    import logging

    caplog.set_level(logging.INFO)
    reply = at_text(at_app.test_client(), "JOIN", phone="+8562060000000")  # possible, not valid
    assert reply.status_code == 200
    with runtime_of(at_app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Member)) == 0
    assert outbox(at_app) == []
    assert "invalid number ***********000" in caplog.text and "2060000000" not in caplog.text


def test_africastalking_sends_go_over_one_kept_alive_connection(make_app):
    """The official SDK posts with ``requests.post``: a new connection (a new TLS
    handshake, against the real API) for every request. Ours reuse one; a request
    that timed out leaves its connection behind, and the next one opens another."""
    from .fakes import LATE_ANSWER_S, KeptAliveAfricasTalking

    fake = KeptAliveAfricasTalking()
    try:
        app = make_app(
            sms_provider="africastalking",
            at_api_url=fake.url,
            at_username="outreach",
            at_api_key="key",
            provider_timeout_ms=PROVIDER_TIMEOUT_MS,
        )
        provider = runtime_of(app).services.provider
        for n in range(3):
            assert provider.send(f"Hello {n}", ["+8562055510001"])[0].accepted
        assert len(fake.ports) == 3 and len(set(fake.ports)) == 1
        fake.slow = LATE_ANSWER_S  # answers after the gateway has stopped waiting
        with pytest.raises(Exception, match="may have been sent"):
            provider.send("Slow", ["+8562055510001"])
        assert provider.send("After", ["+8562055510001"])[0].accepted
        assert fake.ports[-1] != fake.ports[0]  # a fresh connection, not the abandoned one
    finally:
        fake.close()


def test_africastalking_sends_take_the_proxy_the_environment_names(make_app, monkeypatch):
    """Sends read the environment once per host rather than on every request, and
    still go through a proxy it names, except to a host NO_PROXY lists."""
    from .fakes import KeptAliveAfricasTalking

    proxy, direct = KeptAliveAfricasTalking(), KeptAliveAfricasTalking()
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", proxy.url)
    try:
        # A host that does not resolve: only the proxy can carry the request.
        app = make_app(
            sms_provider="africastalking",
            at_api_url="http://at.invalid",
            at_username="outreach",
            at_api_key="key",
            provider_timeout_ms=PROVIDER_TIMEOUT_MS,
        )
        provider = runtime_of(app).services.provider
        for n in range(2):
            assert provider.send(f"Hello {n}", ["+8562055510001"])[0].accepted
        assert proxy.paths == ["http://at.invalid/version1/messaging"] * 2
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        app = make_app(
            sms_provider="africastalking",
            at_api_url=direct.url,
            at_username="outreach",
            at_api_key="key",
            provider_timeout_ms=PROVIDER_TIMEOUT_MS,
        )
        assert runtime_of(app).services.provider.send("Direct", ["+8562055510001"])[0].accepted
        assert direct.paths == ["/version1/messaging"] and len(proxy.paths) == 2
    finally:
        proxy.close()
        direct.close()


def test_twilio_sends_take_the_proxy_the_environment_names(make_app, fake_twilio, monkeypatch):
    """The Twilio SDK's session is told the environment's proxy once, and still
    sends through it."""
    from .fakes import FakeTwilio

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", fake_twilio.url)  # the fake answers as the proxy would, forwarded
    app = make_app(
        sms_provider="twilio",
        twilio_api_url="http://twilio.invalid",
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )
    assert runtime_of(app).services.provider.send("Hello", ["+8562055510001"])[0].accepted
    assert [form["To"] for form in fake_twilio.requests] == ["+8562055510001"]


def test_a_forked_sender_opens_its_own_connection_to_africastalking(make_app):
    """RQ forks a work-horse per job and the worker forks the inbox drainer: a
    connection kept alive in the parent must not be written to by a child too."""
    import os

    from .fakes import KeptAliveAfricasTalking

    fake = KeptAliveAfricasTalking()
    try:
        app = make_app(
            sms_provider="africastalking",
            at_api_url=fake.url,
            at_username="outreach",
            at_api_key="key",
            provider_timeout_ms=PROVIDER_TIMEOUT_MS,
        )
        provider = runtime_of(app).services.provider
        assert provider.send("Parent", ["+8562055510001"])[0].accepted
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(0 if provider.send("Child", ["+8562055510001"])[0].accepted else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert provider.send("Parent again", ["+8562055510001"])[0].accepted
        parent, child, again = fake.ports
        assert child != parent and again == parent  # the child's own; the parent's kept
    finally:
        fake.close()
