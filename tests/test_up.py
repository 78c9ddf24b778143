"""``outreach up`` really starts the web server, the worker and Redis, and stops cleanly."""

import os
import signal
import stat
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .helpers import shared_secret, wait_until


def outbox_status(database_url: str):
    from sqlalchemy import select

    from gateway.store.database import Database
    from gateway.store.models import OutboundMessage

    database = Database(database_url)
    try:
        with database.session() as db:
            return db.scalar(select(OutboundMessage.status).order_by(OutboundMessage.id.desc()).limit(1))
    finally:
        database.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_up(tmp_path, database_url, **settings) -> tuple[subprocess.Popen, int]:
    """``outreach up`` on a free port, its output in ``up.log``; waits for /healthz."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=database_url, PYTHONUNBUFFERED="1", **settings)
    if os.environ.get("REDIS_URL"):  # a database of its own on the server, as a fresh install has
        env["REDIS_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/14"
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    log = open(tmp_path / "up.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "up", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
    )

    def healthy() -> bool:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_until(healthy, 60, lambda: Path(tmp_path / "up.log").read_text(), every_s=0.3)
    except AssertionError:
        stop(process)
        raise
    return process, port


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def post(port: int, path: str, body: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def webhook_token(database_url: str) -> str:
    """The token ``outreach up`` printed: the deployment's, from the database."""
    return shared_secret(database_url)


def test_up_serves_healthz_and_ussd_then_stops_on_sigterm(tmp_path, database_url):
    process, port = start_up(tmp_path, database_url)
    token = webhook_token(database_url)
    try:
        hop = "sessionId=up1&serviceCode=*384%23&phoneNumber=%2B8562055510001&text="
        assert post(port, "/ussd/africastalking", hop) == (403, "END Forbidden")  # no token: nothing happens
        assert post(port, "/sms/twilio", "From=%2B8562055510001&Body=STOP")[0] == 404  # no Twilio: not served
        status, reply = post(port, f"/ussd/africastalking?token={token}", hop)
        assert status == 200 and reply.startswith("CON ")
        output = wait_until(
            lambda: "Scheduler for" in (text := Path(tmp_path / "up.log").read_text()) and text,
            60,
            "the worker's scheduler started",
            every_s=0.3,
        )
        assert "Listening on replies, default, bulk" in output  # the RQ worker ...
        assert "Scheduler for" in output and "started with PID" in output  # ... with its scheduler
        assert f"http://127.0.0.1:{port}/ussd/africastalking?token={token}" in output  # ready to paste
        assert "Twilio webhooks" not in output  # not served, so not offered
        assert "Starting gunicorn" in output  # the production server, not Flask's
        if not os.environ.get("REDIS_URL"):
            assert "redis:         embedded" in output
        # An SMS goes in through the webhook and its reply out through the forked RQ
        # worker and the console provider: the outbox row ends "sent".
        sms = urllib.request.Request(
            f"http://127.0.0.1:{port}/sms/africastalking?token={token}",
            data=b"from=%2B8562055510002&to=20880&text=HELP&id=up-sms-1&date=&linkId=",
            method="POST",
        )
        assert urllib.request.urlopen(sms, timeout=5).status == 200
        wait_until(
            lambda: outbox_status(database_url) == "sent",
            60,
            lambda: Path(tmp_path / "up.log").read_text()[-3000:],
            every_s=0.3,
        )
    finally:
        code = stop(process)
    assert code == 0, Path(tmp_path / "up.log").read_text()
    # Nothing in the instance folder is readable by another account on the server.
    instance = tmp_path / "instance"
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    files = [p for p in instance.rglob("*") if p.is_file()]
    # The secrets are the deployment's, in the database: none is kept on this host's disk.
    assert not any(p.name in ("webhook_token", "secret_key") for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"


def test_a_whole_run_logs_neither_the_webhook_token_nor_a_full_number(tmp_path, database_url):
    token = "tok-" + "s3cr3t" * 4
    process, port = start_up(tmp_path, database_url, AT_WEBHOOK_TOKEN=token, LOG_LEVEL="DEBUG")
    numbers = ["+8562055510031", "+8562055510032", "+8562060000000"]  # the last one is invalid
    try:
        for number in numbers:
            encoded = number.replace("+", "%2B")
            assert (
                post(
                    port,
                    f"/ussd/africastalking?token={token}",
                    f"sessionId=g-{number}&serviceCode=*384%23&phoneNumber={encoded}&text=",
                )[0]
                == 200
            )
            for text in ("JOIN", "HELP", "STOP"):
                assert (
                    post(
                        port,
                        f"/sms/africastalking?token={token}",
                        f"from={encoded}&to=20880&text={text}&id=g{number}{text}&date=&linkId=",
                    )[0]
                    == 200
                )
            assert (
                post(
                    port,
                    f"/status/africastalking?token={token}",
                    f"id=ATX-{number}&status=Failed&phoneNumber={encoded}&failureReason=x",
                )[0]
                == 200
            )
        assert post(port, "/sms/africastalking?token=wrong", "from=%2B8562055510031&text=hi&id=w")[0] == 403
        # The worker sends the replies and logs what it did.
        wait_until(
            lambda: outbox_status(database_url) not in (None, "queued", "sending"),
            30,
            "the worker to have sent the replies",
            every_s=0.3,
        )
    finally:
        assert stop(process) == 0
    log = Path(tmp_path / "up.log").read_text()
    assert "POST /sms/africastalking" in log and "message" in log  # there is a log to search
    # Printed once at the start, in the URLs to paste into Africa's Talking; in no request's log line.
    with_token = [line for line in log.splitlines() if token in line]
    assert len(with_token) == 4 and all(
        line.strip().startswith(("USSD:", "SMS:", "delivery:", "voice:")) for line in with_token
    ), with_token
    for number in numbers:
        digits = number.lstrip("+")
        for form in (digits, "0" + digits[3:], digits[3:]):
            assert form not in log, f"{form} in the log"


def _workers_of(process: subprocess.Popen) -> list:
    import psutil

    workers = []
    for child in psutil.Process(process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "gateway.cli.main worker" in " ".join(child.cmdline()):
                workers.append(child)
        except psutil.Error:  # gone meanwhile
            pass
    return workers


def test_a_killed_worker_is_restarted_while_the_webhooks_keep_answering(tmp_path, database_url):
    import json

    import psutil

    process, port = start_up(tmp_path, database_url, RECONCILE_EVERY="3")
    try:
        [worker] = wait_until(lambda: len(found := _workers_of(process)) == 1 and found, 60, "one worker", every_s=0.2)
        wait_until(lambda: worker.children(recursive=True), 30, "its scheduler and drainer up", every_s=0.2)
        family = [worker] + worker.children(recursive=True)
        worker.kill()  # SIGKILL to the worker alone: its children must not outlive it
        killed_at = time.monotonic()
        # The web server does not notice: USSD and SMS are answered meanwhile.
        status, reply = post(
            port,
            f"/ussd/africastalking?token={webhook_token(database_url)}",
            "sessionId=k1&serviceCode=*384%23&phoneNumber=%2B8562055510041&text=",
        )
        assert status == 200 and reply.startswith("CON ")
        assert (
            post(
                port,
                f"/sms/africastalking?token={webhook_token(database_url)}",
                "from=%2B8562055510041&to=20880&text=HELP&id=k1",
            )[0]
            == 200
        )
        wait_until(lambda: [w for w in _workers_of(process) if w.pid != worker.pid], 60, "a new worker", every_s=0.2)

        def alive(proc):
            try:
                return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                return False

        assert len(family) >= 2
        wait_until(lambda: not [p for p in family if alive(p)], 10, "the killed worker's children gone")
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
        assert health["status"] in ("ok", "degraded") and health["database"] == "ok"
        # ... and the reply to the text sent while no worker ran goes out. (A worker
        # killed inside BLPOP can make Redis hand the next job to its dead socket:
        # the reconciler finds the reply row whose job is in no queue, and queues it.)
        wait_until(
            lambda: outbox_status(database_url) == "sent",
            90 - (time.monotonic() - killed_at),
            "the reply to the text sent while no worker ran",
            every_s=0.3,
        )
    finally:
        code = stop(process)
    log = Path(tmp_path / "up.log").read_text()
    assert "worker stopped (exit -9); restarting in 1 s" in log and "worker restarted" in log
    assert code == 0, log[-3000:]


def test_up_stops_with_a_clear_message_when_the_web_server_cannot_start(tmp_path, database_url):
    with socket.socket() as busy:  # the port is taken
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=database_url)
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "up", "--port", str(port), "--workers", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 1
    assert "the web server stopped as soon as it started" in done.stderr


def test_texts_spooled_before_a_restart_are_answered_with_no_new_traffic(tmp_path, database_url):
    """A host went down with texts in its outage spool: when it comes back they are
    processed from its start, not when the next text happens to arrive."""
    import json

    spool = tmp_path / "instance" / "spool"
    spool.mkdir(parents=True)
    line = {"provider": "africastalking", "id": "kept-up-1", "phone": "+8562055534001", "text": "HELP"}
    (spool / "inbound.jsonl").write_text(json.dumps(line) + "\n")
    process, port = start_up(tmp_path, database_url)
    try:
        wait_until(
            lambda: outbox_status(database_url) == "sent",
            30,
            lambda: Path(tmp_path / "up.log").read_text()[-3000:],
            every_s=0.3,
        )
        assert not (spool / "inbound.jsonl").exists() and not (spool / "inbound.draining.jsonl").exists()
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
        assert health["spool"] == {"waiting": 0, "oldest_s": None}
    finally:
        stop(process)


def test_one_role_a_host(tmp_path, database_url, redis_url):
    """`--only web` serves and runs no worker; `--only worker` on another host (its
    own folder) does the work; `--only` without the shared services says what to set."""
    import json

    refused = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "up", "--only", "web"],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        | {"INSTANCE_PATH": str(tmp_path / "alone")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "set DATABASE_URL and REDIS_URL" in refused.stderr, refused.stderr
    port = free_port()
    shared = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    if not os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    hosts = []

    def start(role: str, *args: str) -> subprocess.Popen:
        log = open(tmp_path / f"{role}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "up", "--only", role, *args],
            env=dict(shared, INSTANCE_PATH=str(tmp_path / role)),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
        hosts.append(process)
        return process

    def health() -> dict:
        try:
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read())
        except OSError:
            return {}

    logs = lambda: "\n".join(p.read_text()[-1500:] for p in tmp_path.glob("*.log"))  # noqa: E731
    try:
        web = start("web", "--port", str(port), "--workers", "1")
        wait_until(lambda: health().get("status"), 60, logs, every_s=0.3)
        assert health()["status"] == "degraded" and health()["workers"] == 0  # a web host runs no worker
        assert "gateway.cli.main worker" not in " ".join(" ".join(c.cmdline()) for c in _children(web))
        start("worker")
        wait_until(lambda: health().get("status") == "ok", 60, logs, every_s=0.3)
        token = webhook_token(database_url)
        sms = "from=%2B8562055536001&to=20880&text=HELP&id=roles-1&date=&linkId="
        assert post(port, f"/sms/africastalking?token={token}", sms)[0] == 200
        wait_until(lambda: outbox_status(database_url) == "sent", 60, logs, every_s=0.3)
    finally:
        for process in hosts:
            assert stop(process) == 0, logs()


def _children(process: subprocess.Popen) -> list:
    import psutil

    return psutil.Process(process.pid).children(recursive=True)
