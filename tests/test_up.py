"""``outreach up`` really starts the web server, the worker and Redis, and stops cleanly."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


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


def test_up_serves_healthz_and_ussd_then_stops_on_sigterm(tmp_path, database_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=database_url,
               PYTHONUNBUFFERED="1")
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    log = open(tmp_path / "up.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "up", "--port",
                                str(port), "--workers", "2"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status
            except OSError:
                time.sleep(0.3)
        assert status == 200, Path(tmp_path / "up.log").read_text()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ussd/africastalking",
            data=b"sessionId=up1&serviceCode=*384%23&phoneNumber=%2B8562055510001&text=",
            method="POST")
        reply = urllib.request.urlopen(request, timeout=5).read().decode()
        assert reply.startswith("CON ")
        output = ""
        while time.monotonic() < deadline and "Scheduler for" not in output:
            time.sleep(0.3)
            output = Path(tmp_path / "up.log").read_text()
        assert "Listening on replies, default, bulk" in output  # the RQ worker ...
        assert "Scheduler for" in output and "started with PID" in output  # ... with its scheduler
        assert "WARNING: webhooks are UNPROTECTED" in output
        assert f"http://127.0.0.1:{port}/ussd/africastalking" in output
        assert "Starting gunicorn" in output  # the production server, not Flask's
        if not os.environ.get("REDIS_URL"):
            assert "redis:         embedded" in output
        # An SMS goes in through the webhook and its reply out through the forked RQ
        # worker and the console provider: the outbox row ends "sent".
        sms = urllib.request.Request(
            f"http://127.0.0.1:{port}/sms/africastalking",
            data=b"from=%2B8562055510002&to=20880&text=HELP&id=up-sms-1&date=&linkId=",
            method="POST")
        assert urllib.request.urlopen(sms, timeout=5).status == 200
        status = None
        while time.monotonic() < deadline and status != "sent":
            time.sleep(0.3)
            status = outbox_status(database_url)
        assert status == "sent", Path(tmp_path / "up.log").read_text()[-3000:]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, Path(tmp_path / "up.log").read_text()
