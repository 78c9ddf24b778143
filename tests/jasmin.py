"""Jasmin, a real SMS gateway (what many aggregators run), for the SMPP tests.

Jasmin runs from its own virtualenv (``JASMIN_PYTHON``, made by ``.ci/run``:
``pip install jasmin==0.11.1``, a Twisted program that needs its own pins) against
the machine's RabbitMQ, in a virtual host of its own, and a Redis server of its own
(it keeps its message-id map there, and tests flush theirs). Its configuration names
an AMQP spec file its wheel lacks; ``txamqp`` ships the same one.

``Jasmin(upstream_port)`` starts it with its SMPP server on a free port, and
configures it through jCli as an aggregator would be: an SMPP client connector to
the test SMSC upstream (``tests/fake_smsc.py``), a user our link binds as, an MT
route to the upstream and an MO route back to that user. ``restart()`` stops it
hard and starts it again with the same configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

JASMIN_PYTHON = os.environ.get("JASMIN_PYTHON", "/work/jasmin-venv/bin/python")
USER, PASSWORD = "outreach", "secret"  # SMPP passwords are at most 8 characters
UPSTREAM_USER, UPSTREAM_PASSWORD = "jasmin", "upstream"


# jasmind takes a lock at the fixed path /tmp/jasmind, so one machine runs one Jasmin,
# and a killed one leaves it behind. CI runs its two passes side by side, and a test
# kills Jasmin: each gets its lock in its own folder instead.
LAUNCH = """
import os, runpy, sys, lockfile
own = lockfile.FileLock
lockfile.FileLock = lambda path, *args, **kwargs: own(os.path.join(os.environ["ROOT_PATH"], "jasmind"), *args, **kwargs)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def available() -> str:
    """Why Jasmin cannot run here ("" when it can)."""
    if not Path(JASMIN_PYTHON).exists():
        return f"no Jasmin at {JASMIN_PYTHON} (.ci/run installs it)"
    if shutil.which("rabbitmqctl") is None or shutil.which("redis-server") is None:
        return "Jasmin needs RabbitMQ (rabbitmqctl) and redis-server"
    return ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Jasmin:
    def __init__(self, upstream_port: int, root: Path, throughput: float | None = None):
        self.upstream_port, self.root, self.throughput = upstream_port, root, throughput
        self.port = _free_port()
        self.jcli_port = _free_port()
        self.redis_port = _free_port()
        self.vhost = f"jasmin-{uuid.uuid4().hex[:8]}"
        self.process: subprocess.Popen | None = None
        self.pids: list[int] = []  # each jasmind started, first to last
        self.stopped_at = 0.0  # when the last one was gone
        self.redis: subprocess.Popen | None = None
        try:
            self._prepare()
            self.start()
        except BaseException:
            self.close()  # its Redis server and RabbitMQ vhost go with it
            raise

    # ------------------------------------------------------------------ running

    def _prepare(self) -> None:
        etc = self.root / "etc" / "jasmin"
        (etc / "resource").mkdir(parents=True, exist_ok=True)
        (etc / "store").mkdir(exist_ok=True)
        (self.root / "var" / "log" / "jasmin").mkdir(parents=True, exist_ok=True)
        spec = subprocess.run(
            [JASMIN_PYTHON, "-c", "import txamqp, os; print(os.path.dirname(txamqp.__file__))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        shutil.copy(Path(spec) / "specs" / "standard" / "amqp0-9-1.stripped.xml", etc / "resource" / "amqp0-9-1.xml")
        sections = {
            "smpp-server": {"bind": "127.0.0.1", "port": self.port},
            "smpp-server-pb": {"bind": "127.0.0.1", "port": _free_port()},
            "client-management": {"bind": "127.0.0.1", "port": _free_port()},
            "router": {"bind": "127.0.0.1", "port": _free_port()},
            "jcli": {"bind": "127.0.0.1", "port": self.jcli_port},
            "amqp-broker": {"vhost": self.vhost},
            "redis-client": {"port": self.redis_port},
            # A text that finds the upstream connector rebinding waits this long, not 30 s.
            "sm-listener": {"submit_retrial_delay_smppc_not_ready": 1},
        }
        pb_port = sections["smpp-server-pb"]["port"]
        sections["smpp-server-pb-client"] = {"port": pb_port}
        (etc / "jasmin.cfg").write_text(
            "".join(
                f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())
                for name, values in sections.items()
            )
        )
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", self.vhost], check=True, capture_output=True)
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def start(self, configure: bool = True) -> None:
        for stale in self.root.glob("jasmind*"):  # a killed jasmind's lock
            if stale.name != "jasmind.out":
                stale.unlink()
        log = open(self.root / "jasmind.out", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            # The DLR services in-process (its docs advise separate daemons in production).
            [
                JASMIN_PYTHON,
                "-c",
                LAUNCH,
                str(Path(JASMIN_PYTHON).parent / "jasmind.py"),
                "--enable-dlr-thrower",
                "--enable-dlr-lookup",
                "--disable-http-api",
            ],
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pids.append(self.process.pid)
        self._wait_listening(self.jcli_port)
        # jCli answers before jasmind has wired its parts together: a connector started
        # before the router is attached drops members' texts ("RouterPB not set"), and
        # one started before the AMQP channel is open takes nothing from its queue.
        self._wait_logged("smppclient-manager.log", "Added RouterPB to SMPPClientManagerPB")
        self._wait_logged("amqp-client.log", "The channel is open")
        if configure:
            self._configure()
        self._wait_listening(self.port)

    def _environment(self) -> dict[str, str]:
        """Jasmin reads REDIS_URL (Heroku's form), CLOUDAMQP_URL and any SECTION_OPTION
        variable over its configuration file; the test run's REDIS_URL is ours, not its."""
        keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
        return {**keep, "ROOT_PATH": str(self.root)}

    def stop(self, hard: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL if hard else signal.SIGTERM)
            self.process.wait(timeout=20)
            self.stopped_at = time.monotonic()
        self.process = None

    def restart(self) -> None:
        """Killed (SIGKILL) and started again, as after a crash: it loads its persisted
        configuration itself; its queues are RabbitMQ's and its id map is in Redis."""
        self.stop(hard=True)
        self.start(configure=False)
        # Loading its saved profile, jasmind starts the connector before its AMQP channel
        # is open, and the connector then takes nothing from its queue (seen with 0.11.0):
        # restarting the connector once it is (start waited), as its operator would, does.
        self.jcli("smppccm -0 upstream", "smppccm -1 upstream")

    def close(self) -> None:
        self.stop(hard=True)
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(timeout=10)
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.vhost], capture_output=True)

    def _wait_logged(self, name: str, words: str, seconds: float = 30) -> None:
        """Until this jasmind's log ``name`` has a line with ``words``."""
        log, mark = self.root / "var" / "log" / "jasmin" / name, f" {self.process.pid} {words}"
        deadline = time.monotonic() + seconds
        while not (log.exists() and mark in log.read_text(errors="replace")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"jasmind never logged {words!r} in {name}")
            time.sleep(0.1)

    def _wait_listening(self, port: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jasmind exited: {(self.root / 'jasmind.out').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"jasmind never listened on {port}")

    # ------------------------------------------------------------------ what it did

    def _log(self, name: str) -> str:
        path = self.root / "var" / "log" / "jasmin" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def taken_from_us(self) -> list[str]:
        """The numbers of every text our link submitted that Jasmin accepted (its own log)."""
        return re.findall(rf"SMS-MT \[uid:{USER}\].*?\[to:b'(\d+)'\]", self._log("default-smpps_01.log"))

    def forwarded(self, pid: int) -> list[str]:
        """The numbers of the texts jasmind ``pid`` handed to the SMSC upstream."""
        return re.findall(
            rf" {pid} SMS-MT \[cid:upstream\] \[queue-msgid:.*?\[to:b'(\d+)'\]", self._log("messages.log")
        )

    # ------------------------------------------------------------------ jCli

    def _configure(self) -> None:
        user = ["user -a", f"uid {USER}", f"username {USER}", f"password {PASSWORD}", "gid outreach"]
        if self.throughput is not None:
            user.append(f"mt_messaging_cred quota smpps_throughput {self.throughput}")
        self.jcli(
            "smppccm -a",
            "cid upstream",
            "host 127.0.0.1",
            f"port {self.upstream_port}",
            f"username {UPSTREAM_USER}",
            f"password {UPSTREAM_PASSWORD}",
            "submit_throughput 0",
            "ok",
            "smppccm -1 upstream",
            "group -a",
            "gid outreach",
            "ok",
            *user,
            "ok",
            "mtrouter -a",
            "type DefaultRoute",
            "connector smppc(upstream)",
            "rate 0.00",
            "ok",
            "morouter -a",
            "type DefaultRoute",
            f"connector smpps({USER})",
            "ok",
            "persist",
        )

    def jcli(self, *lines: str) -> str:
        """Type ``lines`` into jCli as its operator would; raises on an error it prints."""
        with socket.create_connection(("127.0.0.1", self.jcli_port), timeout=10) as console:
            # Its "Username:" prompt comes wrapped in terminal codes: answer it, then read on.
            said = _read(console, "Password:", before=lambda: console.sendall(b"jcliadmin\r\n"))
            said = _read(console, "jcli : ", before=lambda: console.sendall(b"jclipwd\r\n"))
            for line in lines:
                console.sendall(line.encode() + b"\r\n")
                said = _read(console, ("jcli : ", "> "))
                if re.search(r"Error|Unknown|not found|Invalid", said):
                    raise RuntimeError(f"jCli refused {line!r}: {said}")
                if line in ("ok", "persist") and "Success" not in said and "persisted" not in said:
                    raise RuntimeError(f"jCli did not save: {said}")
            return said


def _read(console: socket.socket, until, before=None, seconds: float = 10) -> str:
    if before is not None:
        time.sleep(0.05)
        before()
    marks = (until,) if isinstance(until, str) else until
    data, deadline = b"", time.monotonic() + seconds
    console.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = console.recv(4096)
        except TimeoutError:
            chunk = b""
        data += chunk
        text = re.sub(rb"\xff[\xfb-\xfe].|\xff[\xf0-\xfa]", b"", data).decode("utf-8", "replace")
        if any(text.rstrip(" ").endswith(mark.rstrip(" ")) for mark in marks):
            return text
    raise TimeoutError(f"jCli said {data[-300:]!r}")
