"""One contract every provider passes, each against its local fake speaking the
provider's real wire format (SMPP against a real SMPP peer: ``fake_smsc``).

A row of ``CASES`` says how one provider's fake is started, scripted and read,
and how its webhooks are posted to; the tests are the same for every row:

- a text to one number, the same text to several, Lao (UCS-2) and a long text, as
  the provider received them;
- the three failure kinds: *not sent* (retry), *rejected* (never retry) and
  *ambiguous* (may have been sent: never resent blindly);
- a member's text in, through the webhook (or the bind), answered; delivery
  reports moving the answer's row to ``delivered`` and ``failed``;
- each webhook route refusing a request without the provider's credentials, and
  answering hostile input with valid credentials in the channel's own shape.

The console sends nowhere and posts nothing: only the sending rows apply to it.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from gateway.errors import AmbiguousProviderError, PermanentProviderError, TransientProviderError
from gateway.runtime import runtime_of
from gateway.store.models import Member, OutboundMessage

from .fakes import LATE_ANSWER_S, PROVIDER_TIMEOUT_MS, FakeAfricasTalking, FakeTwilio, drain
from .helpers import LinkThread, smpp_settings, wait_until

LAO = "ສະບາຍດີ! ກອງປະຊຸມຄັ້ງຕໍ່ໄປແມ່ນວັນພຸດ ເວລາ 14:00 ທີ່ຫ້ອງການ."
LONG = ("ຝຶກອົບຮົມຄວາມປອດໄພດິຈິຕອນ: ຢ່າແບ່ງປັນລະຫັດຜ່ານ, ເປີດການຢືນຢັນສອງຂັ້ນຕອນ, ແລະ ກວດເບິ່ງລິ້ງກ່ອນກົດ. ") * 4
MEMBERS = ["+8562055580001", "+8562055580002", "+8562055580003"]
SHAPES = ("ussd", "xml", "json", "plain", "empty")
HOSTILE_FORMS = [
    {},
    {"from": "'; DROP TABLE members; --", "text": "\x00\x1b[2J", "id": "../../etc/passwd"},
    {"phoneNumber": "+" + "9" * 300, "text": "ສ" * 20000, "sessionId": "x" * 3000, "CallSid": "<Say>"},
    {
        "From": "+8562055580009",
        "Body": "{name}{{7*7}}%s%n",
        "MessageSid": "",
        "CallStatus": "in-progress",
        "isActive": "maybe",
        "dtmfDigits": "*" * 500,
        "direction": "Sideways",
    },
]
HOSTILE_JSON = [
    b"",
    b"[]",
    b"null",
    b'{"event": "sms:received", "payload": []}',
    b"\xff\xfe\x00garbage",
    json.dumps(
        {
            "sender": {"msisdn": 7},
            "sms": {"body": None, "id": {"a": 1}},
            "session": {"id": ["x"]},
            "dlr": {"messageId": None},
        }
    ).encode(),
]


@dataclass
class Case:
    """One provider and its fake, as the contract tests see them."""

    app: object
    delivered: Callable[[], list[tuple[str, str]]]  # (number, text) as the provider got them
    fail_next: Callable[[str], None] | None = None  # script the next send: not sent | rejected | ambiguous
    text_in: Callable[[object, str, str], None] | None = None  # a member's text, as the provider posts it
    report: Callable[[object, str, str, bool], None] | None = None  # (client, id, number, delivered?)
    routes: dict[str, str] = field(default_factory=dict)  # webhook path -> its reply shape
    post: Callable | None = None  # (client, path, form | raw bytes, signed?) -> response
    hostile_in: Callable[[], None] | None = None  # malformed input where it comes on a connection (SMPP)
    close: Callable[[], None] = lambda: None


def _console(make_app, server, tmp_path):
    app = make_app(sms_provider="console")

    def delivered():  # the console's "wire" is the outbox and the ids it gives
        return []

    return Case(app, delivered)


def _africastalking(make_app, server, tmp_path):
    fake = FakeAfricasTalking(server)
    app = make_app(
        sms_provider="africastalking",
        at_api_url=fake.url,
        at_username="outreach",
        at_api_key="key",
        at_sender_id="OUTREACH",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )
    token = app.config["GATEWAY"].at_webhook_token

    def post(client, path, body, signed=True):
        url = path + (f"?token={token}" if signed else "?token=not-the-token")
        return (
            client.post(url, data=body)
            if isinstance(body, dict)
            else client.post(url, data=body, content_type="application/x-www-form-urlencoded")
        )

    def text_in(client, phone, text):
        post(
            client,
            "/sms/africastalking",
            {
                "from": phone,
                "to": "20880",
                "text": text,
                "id": f"at-{phone}-{text}",
                "date": "2026-12-07 10:00:00",
                "linkId": "l1",
            },
        )

    def report(client, message_id, phone, ok):
        post(
            client,
            "/status/africastalking",
            {
                "id": message_id,
                "status": "Success" if ok else "Failed",
                "phoneNumber": phone,
                "failureReason": "" if ok else "AbsentSubscriber",
            },
        )

    return Case(
        app,
        lambda: list(fake.taken),
        lambda kind: fake.script.append({"not sent": "500", "rejected": "403", "ambiguous": "timeout"}[kind]),
        text_in,
        report,
        {
            "/ussd/africastalking": "ussd",
            "/sms/africastalking": "plain",
            "/status/africastalking": "empty",
            "/voice/africastalking": "xml",
        },
        post,
    )


def _twilio(make_app, server, tmp_path):
    fake = FakeTwilio(server)
    app = make_app(
        sms_provider="twilio",
        twilio_api_url=fake.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        public_base_url="https://gw.example.org",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )

    def post(client, path, body, signed=True):
        # Signed over the fields as the gateway will read them (a raw body: as a form).
        body_form = (
            body
            if isinstance(body, dict)
            else Request(
                EnvironBuilder(method="POST", data=body, content_type="application/x-www-form-urlencoded").get_environ()
            ).form.to_dict()
        )
        signature = RequestValidator("tw-secret" if signed else "not-the-token").compute_signature(
            "https://gw.example.org" + path, body_form
        )
        return client.post(
            path,
            data=body,
            headers={"X-Twilio-Signature": signature},
            **({} if isinstance(body, dict) else {"content_type": "application/x-www-form-urlencoded"}),
        )

    def text_in(client, phone, text):
        post(
            client,
            "/sms/twilio",
            {
                "From": phone,
                "To": "+15005550006",
                "Body": text,
                "MessageSid": f"SMin{abs(hash((phone, text)))}",
                "NumSegments": "1",
            },
        )

    def report(client, message_id, phone, ok):
        post(
            client,
            "/status/twilio",
            {
                "MessageSid": message_id,
                "MessageStatus": "delivered" if ok else "undelivered",
                "To": phone,
                "ErrorCode": "" if ok else "30003",
            },
        )

    return Case(
        app,
        lambda: list(fake.taken),
        lambda kind: fake.script.append({"not sent": "500", "rejected": "21211", "ambiguous": "timeout"}[kind]),
        text_in,
        report,
        {"/sms/twilio": "xml", "/status/twilio": "empty", "/voice/twilio": "xml"},
        post,
    )


def _android(make_app, server, tmp_path):
    from .fake_android import FakeAndroidPhone

    phone = FakeAndroidPhone()
    app = make_app(
        sms_provider="android",
        android_api_url=phone.url,
        android_username="sms",
        android_password="secret",
        android_signing_key="sign-key",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )

    def post(client, path, body, signed=True):
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = phone.signed(raw)
        if not signed:
            headers["X-Signature"] = "0" * 64
        return client.post(path, data=raw, headers=headers)

    def text_in(client, number, text):
        body, headers = phone.event(
            "sms:received",
            {"messageId": "1", "message": text, "phoneNumber": number, "receivedAt": "2026-12-07T10:00:00+07:00"},
        )
        client.post("/sms/android", data=body, headers=headers)

    def report(client, message_id, number, ok):
        payload = {"messageId": message_id, "phoneNumber": number}
        if not ok:
            payload["reason"] = "RESULT_ERROR_GENERIC_FAILURE"
        body, headers = phone.event("sms:delivered" if ok else "sms:failed", payload)
        client.post("/sms/android", data=body, headers=headers)

    return Case(
        app,
        lambda: [(r["to"][0], r["text"]) for r in phone.sent],
        lambda kind: phone.script.append({"not sent": "500", "rejected": "400", "ambiguous": "timeout"}[kind]),
        text_in,
        report,
        {"/sms/android": "json"},
        post,
        close=phone.stop,
    )


AGGREGATOR = """
token: contract-secret-0001
sms:
  inbound: {{from: sender.msisdn, text: sms.body, id: sms.id}}
  send:
    url: {url}/v2/sms
    content_type: json
    body: {{to: "{{to}}", text: "{{text}}", ref: "{{id}}"}}
    message_id: data.id
  report: {{id: dlr.messageId, status: dlr.status, delivered: [DELIVRD], failed: [UNDELIV, REJECTD]}}
ussd:
  session: session.id
  phone: session.msisdn
  text: input
  reply: {{as: json, text: message, flag: action, continue: continue, end: end}}
"""


def _http(make_app, server, tmp_path):
    received, script, ids = [], [], iter(range(1, 10**6))

    def accept(request):
        behaviour = script.pop(0) if script else "ok"
        if behaviour in ("500", "400"):
            return Response("{}", int(behaviour), content_type="application/json")
        body = request.get_json()
        received.append(body)
        if behaviour == "timeout":
            time.sleep(LATE_ANSWER_S)
        return Response(json.dumps({"data": {"id": f"agg-{next(ids)}"}}), 200, content_type="application/json")

    server.expect_request("/v2/sms", method="POST").respond_with_handler(accept)
    path = tmp_path / "aggregator.yaml"
    path.write_text(AGGREGATOR.format(url=server.url_for("").rstrip("/")), encoding="utf-8")
    app = make_app(sms_provider="http", http_aggregator_config=str(path), provider_timeout_ms=PROVIDER_TIMEOUT_MS)

    def post(client, path, body, signed=True):
        url = path + ("?token=contract-secret-0001" if signed else "?token=contract-secret-0002")
        if isinstance(body, dict):
            return client.post(url, json=body)
        return client.post(url, data=body, content_type="application/json")

    def text_in(client, phone, text):
        post(client, "/sms/http", {"sender": {"msisdn": phone}, "sms": {"body": text, "id": f"in-{phone}-{text}"}})

    def report(client, message_id, phone, ok):
        post(client, "/status/http", {"dlr": {"messageId": message_id, "status": "DELIVRD" if ok else "UNDELIV"}})

    return Case(
        app,
        lambda: [(b["to"], b["text"]) for b in received],
        lambda kind: script.append({"not sent": "500", "rejected": "400", "ambiguous": "timeout"}[kind]),
        text_in,
        report,
        {"/sms/http": "json", "/status/http": "json", "/ussd/http": "json"},
        post,
    )


def _smpp(make_app, server, tmp_path):
    from smpplib import consts

    from .fake_smsc import FakeSmsc

    smsc = FakeSmsc()
    app = make_app(**smpp_settings(smsc.port, provider_timeout_ms=2000))
    running = LinkThread(app)
    smsc.wait_bound()

    def delivered():
        to = {part["id"]: part["to"] for part in smsc.submits}
        return [("+" + to[message_id].lstrip("+"), text) for message_id, text in smsc.texts.items()]

    def fail_next(kind):
        if kind == "ambiguous":
            smsc.hold = True  # it takes the text and never answers
        elif kind == "rejected":
            smsc.refuse = consts.SMPP_ESME_RINVDSTADR
        else:  # the link is down: a job finds no bind (a "too fast" is the link's to retry: test_jasmin)
            running.stop()

    def close():
        running.stop()
        smsc.stop()

    def hostile_in():
        smsc.deliver_raw(short_message=b"\xd8\x00\x0e", data_coding=8)  # odd-length, a lone surrogate
        smsc.deliver_raw(short_message=b"\x05\x00\x03\x07\x09\x04part", esm_class=0x40)  # part 4 of 9
        smsc.deliver_raw(short_message=b"\xff" * 140, data_coding=0xF5)  # 8-bit binary
        smsc.deliver_raw(source_addr="", short_message=b"no sender")
        smsc.deliver_raw(short_message=b"id:SMSC999 stat:NOSUCH err:xyz", esm_class=0x04)  # a receipt for nothing

    return Case(
        app,
        delivered,
        fail_next,
        lambda client, phone, text: smsc.deliver(phone, text),
        lambda client, message_id, phone, ok: smsc.receipt(message_id, "DELIVRD" if ok else "UNDELIV"),
        close=close,
        hostile_in=hostile_in,
    )


CASES = {
    "console": _console,
    "africastalking": _africastalking,
    "twilio": _twilio,
    "android": _android,
    "http": _http,
    "smpp": _smpp,
}


def test_every_provider_in_the_registry_has_a_row():
    from gateway.providers import PROVIDERS

    assert set(CASES) == set(PROVIDERS)


@pytest.fixture(params=list(CASES))
def case(request, make_app, provider_server, tmp_path):
    found = CASES[request.param](make_app, provider_server, tmp_path)
    found.name = request.param
    yield found
    found.close()


def _kind(send) -> str:
    """What became of a send: sent | not sent | rejected | ambiguous."""
    try:
        outcomes = send()
    except TransientProviderError:
        return "not sent"
    except PermanentProviderError:
        return "rejected"
    except AmbiguousProviderError:
        return "ambiguous"
    (outcome,) = outcomes
    if outcome.accepted:
        assert outcome.provider_message_id, "an accepted text has the provider's id"
        return "sent"
    return "ambiguous" if outcome.ambiguous else "not sent" if outcome.transient else "rejected"


def test_one_text_many_numbers_lao_and_long(case):
    provider = runtime_of(case.app).provider
    assert _kind(lambda: provider.send("Hello from the network", [MEMBERS[0]], ids=["c-1"])) == "sent"
    outcomes = provider.send(LAO, MEMBERS, ids=["c-2", "c-3", "c-4"], urgent=False, ttl=3600)
    assert [o.phone for o in outcomes] == MEMBERS and all(o.accepted and o.provider_message_id for o in outcomes)
    assert len({o.provider_message_id for o in outcomes}) == 3, "each number its own id"
    assert _kind(lambda: provider.send(LONG, [MEMBERS[1]], ids=["c-5"])) == "sent"
    if case.name == "console":
        return  # it sends nowhere
    wait_until(lambda: len(case.delivered()) >= 5, what="the provider to have every text")
    assert sorted(case.delivered()) == sorted(
        [(MEMBERS[0], "Hello from the network"), *[(m, LAO) for m in MEMBERS], (MEMBERS[1], LONG)]
    )


@pytest.mark.parametrize("kind", ["not sent", "rejected", "ambiguous"])
def test_the_three_failure_kinds(case, kind):
    if case.fail_next is None:
        pytest.skip("the console accepts every text: it sends nowhere")
    case.fail_next(kind)
    provider = runtime_of(case.app).provider
    assert _kind(lambda: provider.send("Kind test", [MEMBERS[2]], ids=[f"k-{kind}"])) == kind
    if kind != "ambiguous":
        assert (MEMBERS[2], "Kind test") not in case.delivered()


def _reply_row(app, phone: str):
    with runtime_of(app).db.session() as db:
        return db.scalars(
            select(OutboundMessage).join(Member).where(Member.phone == phone).order_by(OutboundMessage.id.desc())
        ).first()


def _answered(app, phone: str) -> bool:
    drain(app)  # the inbox, then the reply's job, as the worker would
    row = _reply_row(app, phone)
    return row is not None and row.status == "sent"


def _status(app, row_id: int) -> str:
    with runtime_of(app).db.session() as db:
        return db.get(OutboundMessage, row_id).status


def test_a_members_text_is_answered_and_reports_move_the_answer(case):
    if case.text_in is None:
        pytest.skip("the console takes no texts from members")
    client = case.app.test_client()
    for phone, delivered in ((MEMBERS[0], True), (MEMBERS[1], False)):
        case.text_in(client, phone, "HELP")
        wait_until(lambda: _answered(case.app, phone), what="the text kept, answered and the answer sent")
        row = _reply_row(case.app, phone)
        assert row.provider_message_id and any(number == phone for number, _ in case.delivered())
        case.report(client, row.provider_message_id, phone, delivered)
        wait_until(
            lambda: _status(case.app, row.id) == ("delivered" if delivered else "failed"), what="the report applied"
        )


def _shaped(shape: str, response) -> bool:
    body = response.get_data(as_text=True)
    if shape == "ussd":
        return response.mimetype == "text/plain" and body.startswith(("CON ", "END "))
    if shape == "xml":
        return response.mimetype == "text/xml" and ElementTree.fromstring(body).tag == "Response"
    if shape == "json":
        return response.is_json and isinstance(json.loads(body), dict)
    return response.mimetype == "text/plain"  # plain, empty


def test_every_webhook_refuses_a_request_without_its_credentials(case):
    if not case.routes:
        pytest.skip(f"{case.name} posts nothing to us")
    client = case.app.test_client()
    for path, shape in case.routes.items():
        for body in ({"from": MEMBERS[0], "text": "hi"}, b"{}"):
            response = case.post(client, path, body, signed=False)
            assert response.status_code == 403 and _shaped(shape, response), (path, response.status_code)
        plain = FlaskClient(case.app, case.app.response_class).post(path, data={"from": MEMBERS[0]})  # no token added
        assert plain.status_code == 403 and _shaped(shape, plain), path
    served = {rule.rule for rule in case.app.url_map.iter_rules() if rule.endpoint.startswith(case.name + ".")}
    assert served == set(case.routes), "every route of the provider's blueprint is in its row"


def test_hostile_input_with_credentials_gets_the_channels_reply(case):
    if case.hostile_in is not None:  # on the bind: answered, and the link goes on taking texts
        case.hostile_in()
        case.text_in(None, MEMBERS[2], "HELP")
        wait_until(lambda: _answered(case.app, MEMBERS[2]), what="a good text answered after the bad ones")
        return
    if not case.routes:
        pytest.skip(f"{case.name} posts nothing to us")
    client = case.app.test_client()
    for path, shape in case.routes.items():
        let_in = 0
        for body in [*HOSTILE_FORMS, *HOSTILE_JSON]:
            response = case.post(client, path, body)
            assert response.status_code < 500 and _shaped(shape, response), (path, body, response.status_code)
            let_in += response.status_code != 403
        assert let_in == len(HOSTILE_FORMS) + len(HOSTILE_JSON), f"{path}: the guard let every signed request in"
    drain(case.app)  # what was kept of it is processed without a fault (a fault raises here)
