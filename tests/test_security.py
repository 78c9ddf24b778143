"""No door opens without its key: every webhook, the phone studio's PIN, recording
fetches, file modes, and sign-ins, tried as an outsider would.

Webhook refusals are checked with a plain test client (not ``CallbackClient``, which
adds the install's token as Africa's Talking would), and each one must leave every
table, the inbox and the Redis keyspace exactly as they were.
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from gateway import create_app
from gateway.channels.voice.studio import INSTALL_TRIES, NUMBER_TRIES
from gateway.errors import PermanentProviderError
from gateway.providers.android import signature
from gateway.providers.base import Inbound
from gateway.providers.media import MediaHosts, download
from gateway.runtime import runtime_of
from gateway.store.database import Database
from gateway.store.models import AuditEvent, Base

from .helpers import add_member, shared_secret

MEMBER = "+8562055599001"
NAME = "ນ້ອຍ ສີສະຫວາດ"
AGGREGATOR = """token: aggregator-token-0123456789
sms:
  inbound: {from: msisdn, text: message, id: messageId}
ussd:
  session: sessionId
  phone: msisdn
  text: input
"""
TWILIO_TOKEN = "tw-secret-token"
ANDROID_KEY = "android-signing-key"
BASE = "https://gw.example.org"


def snapshot(app) -> dict:
    """Every row of every table, what waits in the inbox and the spool, and every Redis key."""
    tables = {}
    with runtime_of(app).db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            tables[table.name] = sorted(repr(tuple(row)) for row in rows)
    redis = runtime_of(app).redis
    keys = sorted((key, redis.type(key)) for key in redis.scan_iter(count=1000))
    return {
        "tables": tables,
        "inbox": runtime_of(app).inbox.pending()[0],
        "spool": runtime_of(app).spool.pending(),
        "redis": keys,
    }


def plain(app) -> FlaskClient:
    return FlaskClient(app)


def twilio_headers(path: str, form: dict, token: str = TWILIO_TOKEN) -> dict:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(BASE + path, form)}


def android_headers(body: bytes, key: str = ANDROID_KEY, at: float | None = None) -> dict:
    stamp = str(int(time.time() if at is None else at))
    return {"X-Timestamp": stamp, "X-Signature": signature.sign(key, body, stamp), "Content-Type": "application/json"}


# What each route is sent: a member's number with a text that would act (STOP, a
# first USSD hop that greets her by name, a report that would opt her out).
AT_FORMS = {
    "/ussd/africastalking": {"sessionId": "s1", "serviceCode": "*384#", "phoneNumber": MEMBER, "text": ""},
    "/sms/africastalking": {"from": MEMBER, "to": "20880", "text": "STOP", "id": "ATm1", "date": "", "linkId": ""},
    "/status/africastalking": {"senderId": "OUTREACH", "phoneNumber": MEMBER},
    "/voice/africastalking": {"sessionId": "ATVId_1", "callerNumber": MEMBER, "isActive": "1", "direction": "Inbound"},
}
TWILIO_FORMS = {
    "/sms/twilio": {"From": MEMBER, "To": "+15005550006", "Body": "STOP", "MessageSid": "SM1"},
    "/status/twilio": {"MessageSid": "SM2", "MessageStatus": "failed", "ErrorCode": "21610", "To": MEMBER},
    "/voice/twilio": {
        "CallSid": "CA1",
        "From": MEMBER,
        "To": "+15005550006",
        "CallStatus": "ringing",
        "Direction": "inbound",
    },
}
HTTP_FORMS = {
    "/ussd/http": {"sessionId": "h1", "msisdn": MEMBER, "input": ""},
    "/sms/http": {"msisdn": MEMBER, "message": "STOP", "messageId": "h-1"},
}
ANDROID_EVENT = json.dumps(
    {
        "event": "sms:received",
        "id": "evt1",
        "deviceId": "d1",
        "payload": {"phoneNumber": MEMBER, "message": "STOP", "messageId": "m1"},
    }
).encode()


@pytest.fixture
def member_app(make_app):
    app = make_app()
    with runtime_of(app).db.session() as db:
        add_member(db, MEMBER, name=NAME)
    return app


@pytest.fixture
def aggregator_file(tmp_path):
    path = tmp_path / "aggregator.yaml"
    path.write_text(AGGREGATOR)
    return str(path)


def refused(app, response, expected: int, before: dict) -> None:
    assert response.status_code == expected, (response.status_code, response.get_data(as_text=True))
    body = response.get_data(as_text=True)
    assert NAME not in body and "ນ້ອຍ" not in body and MEMBER not in body
    assert snapshot(app) == before


@pytest.mark.parametrize("path", sorted(AT_FORMS))
def test_africastalking_routes_refuse_without_the_install_token(member_app, path):
    """AT_WEBHOOK_TOKEN unset: the deployment's generated token guards the routes."""
    token = member_app.config["GATEWAY"].at_webhook_token
    assert len(token) >= 32 and token == shared_secret(member_app.config["GATEWAY"].database_url)
    before = snapshot(member_app)
    client = plain(member_app)
    refused(member_app, client.post(path, data=AT_FORMS[path]), 403, before)  # missing
    refused(member_app, client.post(f"{path}?token=wrong", data=AT_FORMS[path]), 403, before)  # wrong
    refused(member_app, client.post(f"{path}?token={token[:-1]}", data=AT_FORMS[path]), 403, before)  # nearly
    # Replayed: a URL copied before the token was changed no longer opens anything.
    rotated = create_app(replace(member_app.config["GATEWAY"], at_webhook_token="a-new-token-" + "x" * 24))
    try:
        refused(member_app, plain(rotated).post(f"{path}?token={token}", data=AT_FORMS[path]), 403, before)
    finally:
        runtime_of(rotated).db.dispose()
        runtime_of(rotated).inbox.store.dispose()
    assert plain(member_app).post(f"{path}?token={token}", data=AT_FORMS[path]).status_code == 200


@pytest.mark.parametrize("path", sorted(TWILIO_FORMS))
def test_twilio_routes_are_not_served_without_a_token_and_refuse_bad_signatures(make_app, path):
    unset = make_app(public_base_url=BASE)
    with runtime_of(unset).db.session() as db:
        add_member(db, MEMBER, name=NAME)
    form = TWILIO_FORMS[path]
    before = snapshot(unset)
    refused(unset, plain(unset).post(path, data=form, headers=twilio_headers(path, form)), 404, before)
    app = make_app(public_base_url=BASE, twilio_auth_token=TWILIO_TOKEN)
    client = plain(app)
    before = snapshot(app)
    refused(app, client.post(path, data=form), 403, before)  # missing
    refused(app, client.post(path, data=form, headers=twilio_headers(path, form, "another-token")), 403, before)
    other = dict(form, Body="HELP") if "Body" in form else dict(form, CallSid="CA9")
    # Replayed: a signature captured from another request, sent with this one's fields.
    refused(app, client.post(path, data=form, headers=twilio_headers(path, other)), 403, before)
    assert client.post(path, data=form, headers=twilio_headers(path, form)).status_code == 200


def test_android_route_is_not_served_without_a_key_and_refuses_bad_signatures(make_app):
    unset = make_app()
    with runtime_of(unset).db.session() as db:
        add_member(db, MEMBER, name=NAME)
    before = snapshot(unset)
    refused(
        unset,
        plain(unset).post("/sms/android", data=ANDROID_EVENT, headers=android_headers(ANDROID_EVENT)),
        404,
        before,
    )
    app = make_app(android_signing_key=ANDROID_KEY)
    client = plain(app)
    before = snapshot(app)
    refused(
        app, client.post("/sms/android", data=ANDROID_EVENT, headers={"Content-Type": "application/json"}), 403, before
    )
    refused(
        app,
        client.post("/sms/android", data=ANDROID_EVENT, headers=android_headers(ANDROID_EVENT, "wrong-key")),
        403,
        before,
    )
    stale = android_headers(ANDROID_EVENT, at=time.time() - 3600)  # replayed an hour later
    refused(app, client.post("/sms/android", data=ANDROID_EVENT, headers=stale), 403, before)
    assert client.post("/sms/android", data=ANDROID_EVENT, headers=android_headers(ANDROID_EVENT)).status_code == 200


@pytest.mark.parametrize("path", sorted(HTTP_FORMS))
def test_aggregator_routes_are_not_served_unconfigured_and_refuse_a_wrong_token(make_app, aggregator_file, path):
    unset = make_app()
    with runtime_of(unset).db.session() as db:
        add_member(db, MEMBER, name=NAME)
    form = HTTP_FORMS[path]
    before = snapshot(unset)
    refused(unset, plain(unset).post(f"{path}?token=aggregator-token-0123456789", data=form), 404, before)
    app = make_app(http_aggregator_config=aggregator_file)
    client = plain(app)
    before = snapshot(app)
    refused(app, client.post(path, data=form), 403, before)
    refused(app, client.post(f"{path}?token=wrong", data=form), 403, before)
    refused(app, client.post(path, data=form, headers={"X-Token": "aggregator-token-012345678"}), 403, before)
    assert client.post(f"{path}?token=aggregator-token-0123456789", data=form).status_code == 200


def test_an_aggregator_file_without_a_token_or_a_provider_without_its_secret_stops_the_start(make_app, tmp_path):
    from gateway.errors import ConfigError

    open_file = tmp_path / "open.yaml"
    open_file.write_text("sms:\n  inbound: {from: msisdn}\n")
    with pytest.raises(ConfigError, match="HTTP_AGGREGATOR_CONFIG.*token"):
        make_app(http_aggregator_config=str(open_file))
    for provider, variable in (
        ("twilio", "TWILIO_AUTH_TOKEN"),
        ("android", "ANDROID_SIGNING_KEY"),
        ("http", "HTTP_AGGREGATOR_CONFIG"),
    ):
        with pytest.raises(ConfigError, match=variable):
            make_app(sms_provider=provider)


def test_a_webhook_body_over_the_limit_is_refused_unread(member_app):
    token = member_app.config["GATEWAY"].at_webhook_token
    before = snapshot(member_app)
    big = {"from": MEMBER, "text": "x" * (70 * 1024), "id": "big"}
    response = plain(member_app).post(f"/sms/africastalking?token={token}", data=big)
    refused(member_app, response, 413, before)
    ussd = plain(member_app).post(
        f"/ussd/africastalking?token={token}", data=dict(AT_FORMS["/ussd/africastalking"], text="1" * (70 * 1024))
    )
    assert ussd.status_code == 413 and ussd.get_data(as_text=True).startswith("END ")


def test_healthz_tells_an_outsider_counts_only(make_app, people):
    app = make_app()
    outsider = plain(app).get("/healthz").get_json()
    assert set(outsider) >= {"status", "database", "redis", "workers"}
    assert "phones" not in outsider or set(outsider["phones"]) == {"in_rotation", "total"}


def test_a_huge_id_is_a_404_and_the_language_switch_is_a_post(people):
    from .test_dashboard_pages import signed_in

    client = signed_in(people)
    assert client.get("/members/99999999999999999999").status_code == 404
    assert client.get("/language/en").status_code == 405


# ------------------------------------------------------------------ the phone studio's PIN

PIN = "246810"


class Call:
    def __init__(self, client, caller: str, call_id: str):
        self.client, self.caller, self.call_id = client, caller, call_id

    def post(self, **fields) -> str:
        form = {
            "sessionId": self.call_id,
            "callerNumber": self.caller,
            "isActive": "1",
            "direction": "Inbound",
            **fields,
        }
        return self.client.post("/voice/africastalking", data=form).get_data(as_text=True)


def test_pin_guessing_is_limited_per_number_and_across_the_install_and_audited(make_app):
    app = make_app(studio_pin=PIN)
    client = app.test_client()
    numbers = ["+8562055599101", "+8562055599102"]
    for n in range(10):  # 20 wrong tries over 10 calls from two numbers
        call = Call(client, numbers[n % 2], f"ATVId_pin{n}")
        call.post()
        assert "PIN" in call.post(dtmfDigits="*")
        call.post(dtmfDigits="111111")
        call.post(dtmfDigits="222222")
    for n, number in enumerate(numbers + ["+8562055599103"]):  # the right PIN, from anyone, is refused now
        call = Call(client, number, f"ATVId_right{n}")
        call.post()
        call.post(dtmfDigits="*")
        refusal = call.post(dtmfDigits=PIN)
        assert "Goodbye" in refusal and "number of the prompt" not in refusal
    with runtime_of(app).db.session() as db:
        locks = [e.detail for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "studio.locked"))]
    assert any(f"{NUMBER_TRIES} wrong PINs" in d and "099101"[-3:] in d for d in locks)
    assert any(f"every number: {INSTALL_TRIES}" in d for d in locks)
    assert not any(number in " ".join(locks) for number in numbers)  # masked
    # When the hour is over, the right PIN opens the studio again.
    for key in runtime_of(app).redis.scan_iter("voice:studio:fail:*"):
        runtime_of(app).redis.delete(key)
    call = Call(client, numbers[0], "ATVId_later")
    call.post()
    call.post(dtmfDigits="*")
    assert "number of the prompt" in call.post(dtmfDigits=PIN)


def test_studio_phones_limits_who_is_offered_the_studio(make_app):
    app = make_app(studio_pin=PIN, studio_phones="+8562055599201")
    client = app.test_client()
    stranger = Call(client, "+8562055599202", "ATVId_s1")
    stranger.post()
    assert "PIN" not in stranger.post(dtmfDigits="*")
    listed = Call(client, "+8562055599201", "ATVId_s2")
    listed.post()
    assert "PIN" in listed.post(dtmfDigits="*")


# ------------------------------------------------------------------ recording fetches


class Listener:
    """A socket on loopback that counts who connects to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/r.wav",
        "https://127.0.0.1:{port}/r.wav",
        "https://10.1.2.3/r.wav",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost:{port}/r.wav",
        "https://user:pw@api.twilio.com/r.wav",
        "file:///etc/passwd",
    ],
)
def test_recording_urls_off_the_provider_or_on_private_addresses_are_refused(listener, url):
    twilio = MediaHosts.of("", (".twilio.com", "api.twilio.com"), private_ok=False)
    with pytest.raises(PermanentProviderError):
        download(url.format(port=listener.port), 2, twilio, auth=("AC1", "secret"))
    listed = MediaHosts.of(f"127.0.0.1:{listener.port},10.1.2.3", (), private_ok=False)
    if "{port}" in url or "10.1.2.3" in url:  # listed, but private: still refused
        with pytest.raises(PermanentProviderError):
            download(url.format(port=listener.port), 2, listed)
    time.sleep(0.3)
    assert listener.connections == 0


def test_a_redirect_to_loopback_is_refused_and_credentials_stay_with_the_first_host(provider_server, listener):
    provider_server.expect_request("/r.wav").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{listener.port}/steal"}
    )
    hosts = MediaHosts.of(f"{provider_server.host}:{provider_server.port}", (), private_ok=True)
    with pytest.raises(PermanentProviderError, match="media host"):
        download(provider_server.url_for("/r.wav"), 2, hosts, auth=("AC1", "secret"))
    time.sleep(0.3)
    assert listener.connections == 0


def test_the_worker_refuses_a_recording_url_on_loopback(make_app, listener):
    from .fakes import drain

    app = make_app(studio_pin=PIN, at_webhook_token="tok")
    call = Call(app.test_client(), "+8562055599301", "ATVId_rec")
    call.post()
    call.post(dtmfDigits="*")
    call.post(dtmfDigits=PIN)
    call.post(dtmfDigits="1")
    call.post(recordingUrl=f"http://127.0.0.1:{listener.port}/steal.mp3")
    call.post(dtmfDigits="1")
    drain(app)
    time.sleep(0.3)
    assert listener.connections == 0
    assert not runtime_of(app).audio.has("lo", "voice.goodbye")


# ------------------------------------------------------------------ files


def test_the_instance_folder_and_its_secrets_are_private(make_app, tmp_path):
    folder = tmp_path / "instance"
    app = make_app()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not (folder / "secret_key").exists() and not (folder / "webhook_token").exists()  # in the database
    runtime_of(app).spool.add(Inbound("africastalking", "spooled-1", MEMBER, "hi"))
    for path in folder.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_the_install_database_and_its_log_are_private(config, tmp_path):
    """The default SQLite file, made by the gateway in its instance folder."""
    settings = replace(config, instance_path=tmp_path / "own", database_url="")
    Database(settings.sqlalchemy_url).upgrade()  # as `outreach up` does before the app starts
    app = create_app(settings)
    try:
        files = [p for p in (tmp_path / "own").rglob("*") if p.is_file()]
        assert any(p.name == "outreach.db" for p in files)
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    finally:
        runtime_of(app).db.dispose()
        runtime_of(app).inbox.store.dispose()


def test_an_erasure_leaves_no_trace_of_her_in_the_sqlite_files(make_app):
    app = make_app()
    database = runtime_of(app).db
    if database.engine.dialect.name != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    from gateway.channels.erasure import erase_member

    unusual = "Zyxwvut Qponmlk"
    with database.session() as db:
        member_id = add_member(db, "+8562055599401", name=unusual).id
    erase_member(runtime_of(app).services, runtime_of(app).inbox, runtime_of(app).spool, member_id, "test")
    path = database.engine.url.database
    for suffix in ("", "-wal"):
        data = file_bytes(path + suffix)
        assert unusual.encode() not in data and b"8562055599401" not in data, suffix


def file_bytes(path: str) -> bytes:
    """The file's bytes, read by another process: closing a descriptor of a SQLite file
    in this one would drop every lock this process's connections hold on it (POSIX
    locks are per process), and later writes by other processes go unseen here."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; p = pathlib.Path(sys.argv[1]); "
            "sys.stdout.buffer.write(p.read_bytes() if p.exists() else b'')",
            path,
        ],
        check=True,
        capture_output=True,
    ).stdout


def test_every_dashboard_page_carries_the_security_headers(people):
    from .test_dashboard_pages import PAGES, signed_in

    client = signed_in(people)
    for path in PAGES + ["/login", "/users", "/healthz", "/static/dashboard/dashboard.css"]:
        response = client.get(path)
        assert response.status_code in (200, 403), path
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        if response.mimetype == "text/html":
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
            assert "unsafe-inline" not in headers["Content-Security-Policy"], path
            assert (
                b"<script>" not in response.data
                and b"<style>" not in response.data
                and b' style="' not in response.data
            ), path
        if not path.startswith("/static"):
            assert headers["Cache-Control"] == "no-store", path
