"""A deployment over several hosts on this one machine: a network namespace per host.

``Deployment`` makes a bridge in the test's own namespace (which is the client:
it posts as the providers do, and runs the fake provider and the fake SMSC on the
bridge's address), and one namespace per host, each with its own address on the
bridge:

- ``data``: a PostgreSQL cluster made here with ``initdb`` (run as the ``postgres``
  user, as initdb refuses root) and a ``redis-server``, both listening only on the
  data host's address;
- ``web1``, ``web2``: ``outreach up --only web``;
- ``worker1``, ``worker2``: ``outreach up --only worker``;
- ``smpp1``, ``smpp2``: ``outreach up --only smpp``, when a test asks for them.

Every host has an instance folder of its own and nothing else in common with the
others but the network. It needs root (``ip netns``), which CI has; names carry
the process id, so CI's two passes side by side never share a namespace.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOSTS = {"data": 2, "web1": 11, "web2": 12, "worker1": 21, "worker2": 22, "smpp1": 31, "smpp2": 32}


def possible() -> str | None:
    """Why a deployment cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "initdb", "pg_ctl", "postgres", "redis-server", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user to run initdb as"
    return None


class Deployment:
    def __init__(self):
        self.tag = f"og{os.getpid() % 100000}"
        self.subnet = f"10.{200 + os.getpid() % 50}.{os.getpid() % 250}"
        self.bridge = f"{self.tag}br"
        self.root = Path(tempfile.mkdtemp(prefix="outreach-deployment-"))
        self.root.chmod(0o755)  # the postgres user walks to its data folder
        self.processes: dict[str, list[subprocess.Popen]] = {}
        self.made: list[str] = []

    # ------------------------------------------------------------------ addresses

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{HOSTS[host]}" if host != "client" else f"{self.subnet}.1"

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@{self.ip('data')}:5432/outreach"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.ip('data')}:6379/0"

    def url(self, host: str) -> str:
        return f"http://{self.ip(host)}:8000"

    # ------------------------------------------------------------------ the network

    def network(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.ip('client')}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in HOSTS:
            ns, veth = self.ns(host), f"{self.tag}{HOSTS[host]}"
            _ip("netns", "add", ns)
            self.made.append(ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _ip("-n", ns, "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    # ------------------------------------------------------------------ the data host

    def data(self) -> None:
        folder = self.root / "pgdata"
        folder.mkdir()
        shutil.chown(folder, "postgres", "postgres")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "initdb", "-D", str(folder), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        with open(folder / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.subnet}.0/24 trust\n")
        self.start_postgres()
        self.spawn(
            "data",
            ["redis-server", "--bind", self.ip("data"), "--port", "6379", "--save", "", "--protected-mode", "no"],
            "redis",
        )
        self.wait(lambda: _psql(self, "SELECT 1", "postgres"), 60, "PostgreSQL on the data host")
        _psql(self, "CREATE DATABASE outreach", "postgres")

    def start_postgres(self) -> None:
        folder = self.root / "pgdata"
        self.run_as_postgres(
            [
                "pg_ctl",
                "-D",
                str(folder),
                "-l",
                str(self.root / "pgdata" / "server.log"),  # the postgres user's to write
                "-o",
                f"-c listen_addresses={self.ip('data')} -c unix_socket_directories={folder} -c fsync=off "
                "-c max_connections=300",
                "-w",
                "start",
            ]
        )

    def stop_postgres(self) -> None:
        self.run_as_postgres(["pg_ctl", "-D", str(self.root / "pgdata"), "-m", "fast", "-w", "stop"])

    def run_as_postgres(self, args: list[str]) -> None:
        done = subprocess.run(
            ["ip", "netns", "exec", self.ns("data"), "runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr + self.logs("data"))

    # ------------------------------------------------------------------ gateway hosts

    def env(self, host: str, **settings: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            INSTANCE_PATH=str(self.root / host / "instance"),
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
            QUIET_HOURS="off",
        )
        env.update(settings)
        return env

    def gateway(self, host: str, role: str, **settings: str) -> subprocess.Popen:
        args = [sys.executable, "-m", "gateway.cli.main", "up", "--only", role]
        if role == "web":
            args += ["--host", self.ip(host), "--port", "8000", "--workers", "2"]
        (self.root / host).mkdir(exist_ok=True)
        return self.spawn(host, args, role, env=self.env(host, **settings))

    def spawn(self, host: str, args: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.root / f"{host}-{name}.log", "a")
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root / host if (self.root / host).is_dir() else self.root,
            start_new_session=True,
        )
        self.processes.setdefault(host, []).append(process)
        return process

    def healthy(self, host: str) -> dict | None:
        import json

        try:
            with urllib.request.urlopen(f"{self.url(host)}/healthz", timeout=2) as reply:
                return json.loads(reply.read())
        except OSError:
            return None

    def kill_host(self, host: str) -> None:
        """SIGKILL to every process in the host's namespace: the machine lost its power."""
        found = subprocess.run(["ip", "netns", "pids", self.ns(host)], capture_output=True, text=True).stdout.split()
        for pid in found:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes.get(host, []):
            process.wait(timeout=10)

    def logs(self, *hosts: str) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2500:]}"
            for path in sorted([*self.root.glob("*.log"), *self.root.glob("pgdata/server.log")])
            if not hosts or path.name.split("-")[0] in hosts
        )

    def wait(self, check, timeout_s: float, what: str, every_s: float = 0.2):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                found = check()
            except Exception:
                found = None
            if found:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(f"not within {timeout_s} s: {what}\n{self.logs()}")
            time.sleep(every_s)

    # ------------------------------------------------------------------ the end

    def close(self) -> None:
        for host in list(self.processes):
            if host == "data":
                continue
            for process in self.processes[host]:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in self.processes[host]:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        for host in HOSTS:  # anything left in a namespace (a child of a killed supervisor)
            if self.ns(host) in self.made:
                self.kill_host(host) if host != "data" else None
        try:
            self.stop_postgres()
        except subprocess.CalledProcessError:
            pass
        if "data" in self.processes:
            self.kill_host("data")
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _psql(deployment: Deployment, sql: str, database: str = "outreach") -> bool:
    subprocess.run(
        ["psql", "-h", deployment.ip("data"), "-U", "postgres", "-d", database, "-qAtc", sql],
        check=True,
        capture_output=True,
        timeout=10,
    )
    return True
