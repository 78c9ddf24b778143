"""A local aggregator connected by configuration alone: two made-up aggregators with
different field names, body types, USSD text modes and reply shapes."""

import json

import pytest
from sqlalchemy import select
from werkzeug.wrappers import Response

from gateway.errors import ConfigError
from gateway.runtime import runtime_of
from gateway.store import members
from gateway.store.models import OutboundMessage

from .fakes import drain

PHONE = "+8562055570001"

LAOLINK = """
token: laolink-secret-0001
sms:
  inbound: {{from: sender.msisdn, text: sms.body, id: sms.id}}
  send:
    url: {url}/v2/sms
    content_type: json
    body: {{messages: [{{to: "{{to}}", body: "{{text}}", clientRef: "{{id}}"}}]}}
    headers: {{Authorization: "Bearer abc"}}
    message_id: data.id
ussd:
  session: session.id
  phone: session.msisdn
  text: input
  text_is: latest
  hop_id: requestId
  reply: {{as: json, text: message, flag: action, continue: continue, end: end}}
"""

MEKONG = """
token: mekong-secret-0001
sms:
  inbound: {{from: MSISDN, text: MSG, id: MSGID}}
  send:
    url: {url}/send.php
    content_type: form
    body: {{dst: "{{to}}", msg: "{{text}}", ref: "{{id}}", user: outreach}}
ussd:
  session: SESSIONID
  phone: MSISDN
  text: USSDSTRING
  reply: {{as: text}}
"""


@pytest.fixture
def aggregator(make_app, provider_server, tmp_path):
    def build(shape: str):
        path = tmp_path / "aggregator.yaml"
        path.write_text(shape.format(url=provider_server.url_for("").rstrip("/")), encoding="utf-8")
        return make_app(sms_provider="http", http_aggregator_config=str(path), quiet_hours="off")

    return build


def test_laolink_json_ussd_with_latest_inputs_and_hop_ids(aggregator):
    app = aggregator(LAOLINK)
    client = app.test_client()

    def hop(request_id, text):
        return client.post(
            "/ussd/http?token=laolink-secret-0001",
            json={"requestId": request_id, "input": text, "session": {"id": "S1", "msisdn": PHONE}},
        )

    first = hop("r1", "*384#")
    assert first.status_code == 200 and first.content_type.startswith("application/json")
    assert first.get_json()["action"] == "continue" and "(English: 0)" in first.get_json()["message"]
    steps = [("r2", "ນ້ອຍ"), ("r3", "0"), ("r4", "3"), ("r5", "1"), ("r6", "1"), ("r7", "1")]
    replies = [hop(request_id, text).get_json() for request_id, text in steps]
    assert replies[-1]["action"] == "end" and "ລົງທະບຽນແລ້ວ" in replies[-1]["message"]
    assert hop("r7", "1").get_json() == replies[-1]  # retransmitted: same answer, nothing twice
    with runtime_of(app).db.session() as db:
        member = members.by_phone(db, PHONE)
        assert (member.name, member.province, member.topics) == ("ນ້ອຍ", "saravane", ["nutrition"])
    forbidden = client.post("/ussd/http?token=wrong", json={"requestId": "x"})
    assert forbidden.status_code == 403 and forbidden.get_json()["action"] == "end"
    for hostile in (b"{not json", b"[]", b'{"session": 7}'):
        answer = client.post(
            "/ussd/http", data=hostile, headers={"X-Token": "laolink-secret-0001", "Content-Type": "application/json"}
        )
        assert answer.status_code == 200 and answer.get_json()["action"] == "end"


def test_mekong_form_ussd_with_the_whole_history_and_plain_replies(aggregator):
    app = aggregator(MEKONG)
    client = app.test_client()
    texts = ["", "0", "0*Noy", "0*Noy*0", "0*Noy*0*2", "0*Noy*0*2*1", "0*Noy*0*2*1*2 4"]
    replies = [
        client.post("/ussd/http?token=mekong-secret-0001", data={"SESSIONID": "M1", "MSISDN": PHONE, "USSDSTRING": t})
        for t in texts
    ]
    assert all(r.status_code == 200 and r.content_type.startswith("text/plain") for r in replies)
    bodies = [r.get_data(as_text=True) for r in replies]
    assert bodies[1].startswith("CON Welcome! Please type your name:")
    assert bodies[-1].startswith("CON May we keep your details")
    assert (
        client.post(
            "/ussd/http?token=mekong-secret-0001", data={"SESSIONID": "M1", "MSISDN": PHONE, "USSDSTRING": texts[-1]}
        ).get_data(as_text=True)
        == bodies[-1]
    )


def test_laolink_texts_in_and_out(aggregator, provider_server):
    app = aggregator(LAOLINK)
    sent = []

    def accept(request):
        sent.append((request.headers.get("Authorization"), request.get_json()))
        return Response(
            json.dumps({"status": "ok", "data": {"id": f"LL-{len(sent)}"}}), 201, content_type="application/json"
        )

    provider_server.expect_request("/v2/sms", method="POST").respond_with_handler(accept)
    client = app.test_client()
    inbound = {"sender": {"msisdn": PHONE}, "sms": {"id": "in-1", "body": "HELP"}}
    assert client.post("/sms/http", json=inbound, headers={"X-Token": "laolink-secret-0001"}).status_code == 200
    assert client.post("/sms/http", json=inbound, headers={"X-Token": "laolink-secret-0001"}).status_code == 200
    drain(app)
    [(auth, body)] = sent  # the redelivered text was answered once
    assert auth == "Bearer abc" and body["messages"][0]["to"] == PHONE
    assert body["messages"][0]["body"].startswith("ສົ່ງຄຳວ່າ:")
    with runtime_of(app).db.session() as db:
        [row] = db.scalars(select(OutboundMessage)).all()
        assert (row.status, row.provider_message_id) == ("sent", "LL-1")
        assert body["messages"][0]["clientRef"] == f"og-{row.id}"
    assert client.post("/sms/http", json=inbound).status_code == 403
    assert (
        client.post("/sms/http", json={"sms": {"body": "x"}}, headers={"X-Token": "laolink-secret-0001"}).status_code
        == 400
    )


def test_mekong_texts_go_out_as_a_form(aggregator, provider_server):
    app = aggregator(MEKONG)
    sent = []
    provider_server.expect_request("/send.php", method="POST").respond_with_handler(
        lambda request: (sent.append(request.form.to_dict()), Response("OK", 200))[1]
    )
    client = app.test_client()
    assert (
        client.post(
            "/sms/http?token=mekong-secret-0001", data={"MSISDN": PHONE, "MSG": "HELP", "MSGID": "77"}
        ).status_code
        == 200
    )
    drain(app)
    assert sent and sent[0]["dst"] == PHONE and sent[0]["user"] == "outreach"
    assert sent[0]["msg"].startswith("ສົ່ງຄຳວ່າ:") and sent[0]["ref"].startswith("og-")


def test_a_bad_configuration_names_the_setting(make_app, tmp_path):
    path = tmp_path / "broken.yaml"
    for text in ("sms: {send: {url: ftp://x}}", "ussd: {text_is: sometimes}", "[1, 2"):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match="HTTP_AGGREGATOR_CONFIG"):
            make_app(sms_provider="http", http_aggregator_config=str(path))
    with pytest.raises(ConfigError, match="SMS_PROVIDER=http needs HTTP_AGGREGATOR_CONFIG"):
        make_app(sms_provider="http", http_aggregator_config="")
    path.write_text("token: a-long-enough-token\nsms: {inbound: {from: msisdn}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sms.send.url"):
        make_app(sms_provider="http", http_aggregator_config=str(path))
    path.write_text(
        "token: a-long-enough-token\nsms: {send: {url: 'https://a.la/s'}, report: {delivered: DELIVRD}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sms.report.delivered is a list"):
        make_app(sms_provider="http", http_aggregator_config=str(path))
