"""Several hosts over one database and one Redis: what they must agree on, they
read from there, never from their own disk.

Each "host" here is an app (or a process) with an instance folder of its own, as a
second machine would have; the network-namespace runs in ``tests/test_deployment.py``
put them on separate addresses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from sqlalchemy import delete

from gateway.errors import ConfigError
from gateway.runtime import runtime_of
from gateway.services import Services
from gateway.store.database import Database
from gateway.store.models import DeploymentSecret

from .handsets import Phone
from .helpers import shared_secret
from .test_dashboard import sign_in


def _forget_secrets(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.session() as db:
            db.execute(delete(DeploymentSecret))
    finally:
        database.dispose()


@pytest.fixture
def host(make_app, tmp_path):
    """An app as one more host runs it: its own instance folder, no SECRET_KEY or
    AT_WEBHOOK_TOKEN in its environment."""
    made = iter(range(1, 100))

    def build(**overrides):
        settings = {"instance_path": tmp_path / f"host{next(made)}", "secret_key": "", "at_webhook_token": ""}
        return make_app(**(settings | overrides))

    return build


def test_hosts_without_a_secret_share_the_deployments_and_write_none_of_their_own(host, tmp_path):
    web1, web2 = host(), host()
    one, two = web1.config["GATEWAY"], web2.config["GATEWAY"]
    assert one.secret_key == two.secret_key and len(one.secret_key) == 64
    assert one.at_webhook_token == two.at_webhook_token and len(one.at_webhook_token) >= 32
    assert one.secret_key == shared_secret(one.database_url, "secret_key")
    for folder in (one.instance_path, two.instance_path):
        assert not (folder / "secret_key").exists() and not (folder / "webhook_token").exists()


def test_two_hosts_starting_at_once_on_a_new_deployment_get_one_secret(config, make_app, tmp_path):
    make_app()  # migrated, wiped
    _forget_secrets(config.database_url)
    code = (
        "import json, sys; from gateway.services import Services; "
        "s = Services.build(); print(json.dumps([s.config.secret_key, s.config.at_webhook_token]))"
    )
    for attempt in range(3):
        _forget_secrets(config.database_url)
        env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "AT_WEBHOOK_TOKEN")}
        starts = [
            subprocess.Popen(
                [sys.executable, "-c", code],
                env=dict(
                    env,
                    DATABASE_URL=config.database_url,
                    REDIS_URL=config.redis_url,
                    INSTANCE_PATH=str(tmp_path / f"start{attempt}-{n}"),
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        said = [process.communicate(timeout=60) for process in starts]
        assert all(process.returncode == 0 for process in starts), said
        first, second = (json.loads(out) for out, _ in said)
        assert first == second and all(first)


def test_a_secret_kept_by_an_older_install_is_adopted_for_the_whole_deployment(host, tmp_path, config):
    host()
    _forget_secrets(config.database_url)
    older = tmp_path / "older"
    older.mkdir()
    (older / "secret_key").write_text("f" * 64 + "\n")
    (older / "webhook_token").write_text("kept-token-" + "k" * 30)
    upgraded = host(instance_path=older)
    fresh = host()  # a second host, added after the upgrade, with nothing on its disk
    for app in (upgraded, fresh):
        assert app.config["GATEWAY"].secret_key == "f" * 64
        assert app.config["GATEWAY"].at_webhook_token == "kept-token-" + "k" * 30


def test_a_secret_in_the_environment_wins(host):
    app = host(secret_key="set-by-the-operator-" + "s" * 20)
    assert app.config["GATEWAY"].secret_key == "set-by-the-operator-" + "s" * 20


def test_a_database_not_migrated_stops_the_start_with_what_to_do(config, tmp_path):
    unmigrated = f"sqlite:///{tmp_path / 'new.db'}" if config.database_url.startswith("sqlite") else None
    if unmigrated is None:
        pytest.skip("an empty PostgreSQL database of its own is the namespace tests' work")
    with pytest.raises(ConfigError, match=r"SECRET_KEY: .*run `outreach migrate` first"):
        Services.build(replace(config, database_url=unmigrated, secret_key="", instance_path=tmp_path / "i"))


def test_a_sign_in_on_one_host_is_good_on_the_other(host, people):
    web1, web2 = host(), host()
    browser = web1.test_client()
    assert sign_in(browser).status_code == 302
    cookie = browser.get_cookie("session")
    other = web2.test_client()
    other.set_cookie(cookie.key, cookie.value)
    assert other.get("/members").status_code == 200
    assert web2.test_client().get("/members").status_code in (302, 303)  # and without it, not


def test_a_ussd_session_goes_on_on_the_other_host_and_a_redial_resumes_there(host):
    web1, web2 = host(), host()
    token = web1.config["GATEWAY"].at_webhook_token
    one = Phone(web1.test_client(), "+8562055519001", "*384*1#", token)
    two = Phone(web2.test_client(), "+8562055519001", "*384*1#", token)
    asked_name = one.dial()
    two.session_id, two.text = one.session_id, one.text
    asked_organisation = two.press("ນ້ອຍ")  # the next hop lands on the other host
    one.text = two.text
    asked_region = one.press("0")  # and back
    assert len({asked_name, asked_organisation, asked_region}) == 3
    assert "ທ່ານຢູ່ພາກໃດ?" in asked_region
    # The network drops her; she dials again, through the other host, and goes on.
    offer = two.dial()
    assert "ສືບຕໍ່ຈາກບ່ອນທີ່ຄ້າງໄວ້" in offer
    assert "ທ່ານຢູ່ພາກໃດ?" in two.press("1")


def test_rotating_the_webhook_token_reaches_every_host_as_it_restarts(host, run):
    before = host()
    old = before.config["GATEWAY"].at_webhook_token
    rotated = run("secrets", "rotate", "webhook_token")
    assert rotated.exit_code == 0 and "Restart every host" in rotated.output, rotated.output
    restarted, added = host(), host()
    new = restarted.config["GATEWAY"].at_webhook_token
    assert new != old and added.config["GATEWAY"].at_webhook_token == new
    form = {"sessionId": "rot-1", "serviceCode": "*384#", "phoneNumber": "+8562055519002", "text": ""}
    assert restarted.test_client().post(f"/ussd/africastalking?token={old}", data=form).status_code == 403
    assert restarted.test_client().post(f"/ussd/africastalking?token={new}", data=form).status_code == 200
    assert run("secrets", "rotate", "password").exit_code == 2  # only the two it keeps


def _sleep_for(seconds: float) -> None:
    import time

    time.sleep(seconds)


def test_healthz_sees_a_worker_killed_mid_job_within_30_seconds(app, fake_at):
    """RQ keeps a busy worker's registration for 90 s after its last beat; /healthz
    must not take it for alive that long."""
    import signal
    import time

    from .helpers import wait_until
    from .test_broadcasts import start_worker, worker_env

    client = app.test_client()
    worker = start_worker(worker_env(app, fake_at))
    try:
        wait_until(lambda: client.get("/healthz").get_json()["workers"] == 1, 60, "the worker registered")
        job = runtime_of(app).services.queues["default"].enqueue(_sleep_for, 120)
        wait_until(lambda: job.get_status(refresh=True) == "started", 30, "the job running")
        os.killpg(worker.pid, signal.SIGKILL)
        killed = time.monotonic()
        health = wait_until(
            lambda: (found := client.get("/healthz").get_json())["workers"] == 0 and found, 40, "the worker seen gone"
        )
        assert time.monotonic() - killed <= 30 and health["status"] == "degraded"
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


# ------------------------------------------------------------------ the inbox across hosts

REGISTRATION = ["ສະໝັກ", "ນ້ອຍ", "0", "2", "7", "1", "1"]


def _postgres_only(app) -> None:
    if runtime_of(app).inbox.claims is None:
        pytest.skip("SQLite is one host: its drainers take turns through a file lock")


def _bodies_by_member(app) -> dict[str, list[str]]:
    from sqlalchemy import select

    from gateway.store.models import Member, OutboundMessage

    found: dict[str, list[str]] = {}
    with runtime_of(app).db.session() as db:
        for phone, body in db.execute(
            select(Member.phone, OutboundMessage.body)
            .join(Member, Member.id == OutboundMessage.member_id)
            .order_by(OutboundMessage.id)
        ):
            found.setdefault(phone, []).append(body)
    return found


def test_two_drainers_on_two_hosts_answer_every_conversation_in_order(host):
    """504 texts of 72 SMS registrations, taken by two hosts' webhooks in turn and
    processed by two drainers at once: each member's replies are her registration's,
    in order, and both drainers did work."""
    import threading
    import time

    from gateway.channels.sms.inbox import Inbox

    from .helpers import at_webhook, wait_until

    web1, web2 = host(), host()
    _postgres_only(web1)
    drainers = [Inbox.of(runtime_of(app).services) for app in (web1, web2)]
    for drainer in drainers:
        drainer.batch = 20  # many small batches: the two meet often
    done, stop = [0, 0], threading.Event()

    def drain(n: int) -> None:
        while not stop.is_set():
            processed = drainers[n].drain()
            done[n] += processed
            if not processed:
                drainers[n].bell.wait(0.2)

    threads = [threading.Thread(target=drain, args=(n,), daemon=True) for n in range(2)]
    phones = [f"+85620555{n:05d}" for n in range(72)]
    clients = [web1.test_client(), web2.test_client()]
    token = web1.config["GATEWAY"].at_webhook_token
    try:
        for step, text in enumerate(REGISTRATION):
            if step == 3:  # the first half waits for both, the second comes while they work
                for thread in threads:
                    thread.start()
            for n, phone in enumerate(phones):
                assert at_webhook(clients[(n + step) % 2], text, phone=phone, token=token).status_code == 200
        wait_until(lambda: sum(done) >= len(phones) * len(REGISTRATION), 120, lambda: f"processed {done}")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        for drainer in drainers:
            drainer.claims.close()
            drainer.store.dispose()
    assert all(done), f"one drainer did nothing: {done}"
    bodies = _bodies_by_member(web1)
    expected = bodies[phones[0]]
    assert len(expected) == len(REGISTRATION) and expected[-1] == "ຂອບໃຈ ນ້ອຍ! ລົງທະບຽນແລ້ວ. ຫົວຂໍ້: ໂພຊະນາການ"
    wrong = [phone for phone in phones if bodies.get(phone) != expected]
    assert not wrong, f"{len(wrong)} of {len(phones)} conversations answered wrongly or out of order"
    assert time.monotonic() > 0


def test_a_text_taken_on_one_host_wakes_a_drainer_on_another_at_once(host, monkeypatch):
    """No shared folder: the database's notice crosses hosts (its own look is at 30 s here)."""
    import threading
    import time

    from gateway.channels.sms import inbox as inbox_module
    from gateway.channels.sms.inbox import Inbox

    from .helpers import at_webhook, wait_until

    web, worker = host(), host()
    _postgres_only(web)
    monkeypatch.setattr(inbox_module, "LOOK_EVERY_S", 30.0)
    drainer = Inbox.of(runtime_of(worker).services)
    stop = threading.Event()
    thread = threading.Thread(target=drainer.run, args=(stop,), daemon=True)
    thread.start()
    token = web.config["GATEWAY"].at_webhook_token
    waits = []
    try:
        time.sleep(0.5)  # it drained what waited, and listens
        for n in range(5):
            sent = time.monotonic()
            at_webhook(web.test_client(), "HELP", phone=f"+8562055531{n:03d}", token=token)
            wait_until(lambda: runtime_of(web).inbox.pending()[0] == 0, 10, "the drainer woke", every_s=0.005)
            waits.append(time.monotonic() - sent)
    finally:
        stop.set()
        at_webhook(web.test_client(), "HELP", phone="+8562055531999", token=token)  # a ring, to see ``stop``
        thread.join(timeout=10)
        drainer.store.dispose()
    assert sorted(waits)[len(waits) // 2] < 0.5, waits  # not the 30 s of its own look


def test_a_text_kept_through_an_outage_on_one_host_cannot_bring_back_a_member_erased_on_another(host):
    """web2 spooled her text while the database was down; meanwhile she was erased
    through web1. When web2's spool drains, her text is dropped, unread."""
    from gateway.channels.erasure import erase_member
    from gateway.providers.base import Inbound
    from gateway.store import members
    from gateway.store.models import Member

    from .helpers import add_member

    web1, web2 = host(), host()
    her = "+8562055532001"
    with runtime_of(web1).db.session() as db:
        member_id = add_member(db, her, name="Khamla").id
    runtime_of(web2).spool.add(Inbound("africastalking", "kept-1", her, "ສະໝັກ"))
    erased = erase_member(runtime_of(web1).services, runtime_of(web1).inbox, runtime_of(web1).spool, member_id, "test")
    assert erased.waiting_texts == 0  # web1 cannot see web2's spool: the tombstone is what stops it
    assert runtime_of(web2).spool.drain(runtime_of(web2).inbox.add) == 1
    runtime_of(web2).inbox.drain()
    with runtime_of(web1).db.session() as db:
        assert members.by_phone(db, her) is None
        assert db.get(Member, member_id).phone is None
    assert _bodies_by_member(web1).get(her) is None
    # She texts again, after the erasure: a new text from a new contact, answered.
    runtime_of(web1).inbox.add(Inbound("africastalking", "after-1", her, "ສະໝັກ"))
    runtime_of(web1).inbox.drain()
    assert _bodies_by_member(web1)[her][0].startswith("ຍິນດີຕ້ອນຮັບ!")


def test_healthz_says_how_many_texts_the_spool_keeps_and_for_how_long(host):
    from gateway.providers.base import Inbound

    web = host()
    client = web.test_client()
    assert client.get("/healthz").get_json()["spool"] == {"waiting": 0, "oldest_s": None}
    runtime_of(web).spool.add(Inbound("africastalking", "kept-2", "+8562055532002", "HELP"))
    health = client.get("/healthz").get_json()
    assert health["spool"]["waiting"] == 1 and 0 <= health["spool"]["oldest_s"] < 60
    assert any(w.startswith("spool: 1 text(s)") for w in health["warnings"])
    assert runtime_of(web).spool.drain(runtime_of(web).inbox.add) == 1
    assert client.get("/healthz").get_json()["spool"]["waiting"] == 0


def test_a_member_claimed_by_one_drainer_is_left_by_the_other_until_it_lets_go(host):
    """The claims themselves, on two connections as two hosts hold them; an erasure
    waits for a drainer busy with her texts."""
    import threading

    from gateway.channels.sms.inbox import Inbox

    web1, web2 = host(), host()
    _postgres_only(web1)
    inboxes = [Inbox.of(runtime_of(app).services) for app in (web1, web2)]
    one, two = (inbox.claims for inbox in inboxes)
    her, other = one.key("+8562055533001"), one.key("+8562055533002")
    assert two.key("+8562055533001") == her  # the deployment's secret: the same key on every host
    try:
        assert one.take([her]) == {her}
        assert two.take([her, other]) == {other}  # hers is taken; the other member is free
        two.release()
        erased = threading.Event()

        def erase():
            with two.held("+8562055533001"):
                erased.set()

        eraser = threading.Thread(target=erase, daemon=True)
        eraser.start()
        assert not erased.wait(0.5)  # the erasure waits for the batch of hers
        one.release()
        assert erased.wait(5)
        eraser.join(5)
        assert one.take([her]) == {her}  # and lets go of her after
    finally:
        one.close()
        two.close()
        for inbox in inboxes:
            inbox.store.dispose()


# ------------------------------------------------------------------ the SMPP link


def test_one_smpp_bind_across_hosts_and_a_standby_binds_within_30_s_of_the_holder_dying(make_app, config, tmp_path):
    import signal
    import time

    from .fake_smsc import FakeSmsc
    from .helpers import smpp_settings, wait_until

    smsc = FakeSmsc()
    settings = smpp_settings(smsc.port, quiet_hours="off", provider_timeout_ms=4000)
    app = make_app(**settings)
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "AT_WEBHOOK_TOKEN")}
    env.update({name.upper(): str(value) for name, value in settings.items()})
    env.update(DATABASE_URL=config.database_url, REDIS_URL=config.redis_url, LOG_LEVEL="INFO")
    links = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "smpp"],
            env=dict(env, INSTANCE_PATH=str(tmp_path / f"smpp-host{n}")),
            stdout=open(tmp_path / f"smpp{n}.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(2)
    ]
    logs = lambda: "\n".join((tmp_path / f"smpp{n}.log").read_text()[-1500:] for n in range(2))  # noqa: E731
    provider = runtime_of(app).provider
    try:
        wait_until(lambda: smsc.binds == 1, 30, logs)
        wait_until(lambda: "standing by" in logs(), 15, logs)  # the other looked, and waits
        assert smsc.binds == 1 and smsc.most_bound_at_once == 1
        [first] = provider.send("one", ["+8562055535001"], ids=["lease-1"], urgent=True)
        assert first.accepted
        token = runtime_of(app).redis.get("smpp:lease:outreach@127.0.0.1:%d" % smsc.port).decode()
        [holder] = [link for link in links if f":{link.pid}:" in token]
        os.killpg(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: smsc.binds == 2, 45, logs, every_s=0.1)
        took = time.monotonic() - killed
        assert took <= 30, f"the standby bound {took:.1f} s after the holder died"
        assert smsc.most_bound_at_once == 1  # never two at once
        [second] = provider.send("two", ["+8562055535002"], ids=["lease-2"], urgent=True)
        assert second.accepted
        assert [part["to"] for part in smsc.submits] == ["8562055535001", "8562055535002"]  # each once
    finally:
        for link in links:
            if link.poll() is None:
                os.killpg(link.pid, signal.SIGTERM)
            link.wait(timeout=20)
        smsc.stop()


# ------------------------------------------------------------------ recordings


def test_a_recording_made_through_one_host_is_played_and_served_by_the_other(host, people):
    """Recorded in the studio on web1; web2 has never seen the file, and its call
    plays it and its /audio URL serves it, byte for byte."""
    import io

    from .audio import encoded
    from .helpers import form_token

    web1, web2 = host(public_base_url="https://gw.example.org"), host(public_base_url="https://gw.example.org")
    browser = web1.test_client()
    assert sign_in(browser).status_code == 302
    csrf = form_token(browser.get("/").data)
    made = browser.post(
        "/prompts/lo/voice.sorry_english",
        data={"csrf": csrf, "audio": (io.BytesIO(encoded("webm", "libopus")), "blob")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert made.status_code == 200 and made.get_json()["ok"], made.get_data(as_text=True)
    on_web1 = browser.get("/audio/lo/voice.sorry_english.wav")
    on_web2 = web2.test_client().get("/audio/lo/voice.sorry_english.wav")
    assert on_web2.status_code == 200 and on_web2.mimetype == "audio/wav" and on_web2.data == on_web1.data
    assert not (web2.config["GATEWAY"].instance_path / "audio").exists()
    assert runtime_of(web2).audio.info("lo", "voice.sorry_english")["by"] == "admin@ngo.la"
    # A browser that has it already is told it has not changed.
    again = web2.test_client().get(
        "/audio/lo/voice.sorry_english.wav", headers={"If-None-Match": on_web2.headers["ETag"]}
    )
    assert again.status_code == 304


def test_recordings_an_earlier_release_kept_as_files_move_into_the_database_on_migrate(run, app, tmp_path, monkeypatch):
    import json as jsonlib

    from gateway.content.audio import convert

    from .audio import wav

    folder = tmp_path / "old-audio" / "lo"
    folder.mkdir(parents=True)
    (folder / "voice.goodbye.wav").write_bytes(convert(wav()).wav)
    (folder / "voice.goodbye.json").write_text(
        jsonlib.dumps({"text": "ລາກ່ອນ", "by": "noy@ngo.la", "source": "browser", "seconds": 1.5}), encoding="utf-8"
    )
    monkeypatch.setenv("RECORDINGS_DIR", str(tmp_path / "old-audio"))
    moved = run("migrate")
    assert moved.exit_code == 0 and "1 recording(s) moved into the database" in moved.output, moved.output
    kept = runtime_of(app).audio.info("lo", "voice.goodbye")
    assert kept["text"] == "ລາກ່ອນ" and kept["by"] == "noy@ngo.la"
    assert "moved" not in run("migrate").output  # once
