"""A lean line to Redis for the Lua scripts a USSD hop runs (opening and saving it).

Why it is hand-written, measured: with the hop's two scripts on redis-py's own
``Script`` instead, ``bench/ussd.py`` (SQLite, embedded Redis, 2 cores; the line,
redis-py, redis-py, the line, in one session) answered 0.80x and 0.95x the
registration hops a second and 0.92x and 0.98x the walking ones, with 4-28% more
web CPU per hop. Registrations fell past the 10% a change may cost on average
(docs/benchmarks.md), so it stays, beside its one caller (``sessions``).

redis-py 8 spends about 250 µs of CPU on one command here, where the command's
own two system calls (send, receive) cost about 50 µs: before lending a
connection it polls the socket for stray data and checks the process id, Python
polls again before every send and receive because the socket has a timeout, and
each call passes through retry and observability wrappers. A hop runs two
scripts, so that was a sixth of its CPU and a third of its system calls.

A ``ScriptLine`` keeps blocking sockets whose timeouts the kernel enforces
(``SO_SNDTIMEO``/``SO_RCVTIMEO``, so Python never polls), packs and parses with
hiredis (redis-py's own parser), and runs a script by ``EVALSHA``, sending its
body once when the server does not know it (first use, or after a restart).

Errors are redis-py's, so callers handle one family: ``ConnectionError`` when the
server cannot be reached or hangs up, ``TimeoutError`` when it does not answer
in time, ``ResponseError`` when a script fails. A connection that has been lying
idle is tried once more on a fresh one if it turns out to be dead (Redis
restarted meanwhile); a fresh connection that fails is not, because the command
may have run.

Sockets are per process: a forked child (gunicorn's workers, after ``--preload``)
drops what it inherited and connects on its own. TLS (``rediss://``) is not
spoken here; ``ScriptLine.for_url`` returns None for it and callers stay on
redis-py.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import weakref

import hiredis
from redis.connection import UnixDomainSocketConnection, parse_url
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

_LINES: "weakref.WeakSet[ScriptLine]" = weakref.WeakSet()


class Script:
    """A Lua script and its SHA1, by which the server caches it."""

    def __init__(self, body: str):
        self.body = body
        self.sha = hashlib.sha1(body.encode("utf-8"), usedforsecurity=False).hexdigest()  # the name Redis knows it by


class _Connection:
    """One socket and the hiredis reader that parses what it receives."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = hiredis.Reader(replyError=ResponseError)

    def call(self, packed: bytes):
        try:
            self.sock.sendall(packed)
            while True:
                reply = self.reader.gets()
                if reply is not False:
                    return reply
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("Redis closed the connection")
                self.reader.feed(chunk)
        except BlockingIOError as exc:  # SO_RCVTIMEO/SO_SNDTIMEO ran out
            raise TimeoutError("Redis did not answer in time") from exc
        except OSError as exc:
            raise ConnectionError(f"Redis connection lost: {exc}") from exc

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class ScriptLine:
    def __init__(
        self,
        address: str | tuple[str, int],
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
    ):
        self.address = address  # a unix socket path, or (host, port)
        self.db, self.username, self.password = db, username, password
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        # Idle connections: a list, whose pop and append are atomic, so threads
        # (the test server, a threaded WSGI server) never share a socket.
        self._idle: list[_Connection] = []
        _LINES.add(self)

    @classmethod
    def for_url(cls, url: str, timeout_s: float = 5.0) -> ScriptLine | None:
        """A line for a ``redis://`` or ``unix://`` URL; None for TLS."""
        options = parse_url(url)
        connection_class = options.get("connection_class")
        if connection_class is UnixDomainSocketConnection:
            address: str | tuple[str, int] = options["path"]
        elif connection_class is None:
            address = (options.get("host") or "localhost", int(options.get("port") or 6379))
        else:
            return None  # rediss:// and the like: redis-py's job
        return cls(
            address, int(options.get("db") or 0), options.get("username"), options.get("password"), timeout_s, timeout_s
        )

    def run(self, script: Script, keys: list[str], args: list) -> object:
        """Run ``script`` with ``keys`` and ``args``; return its reply."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        reply = self._call(hiredis.pack_command(command))
        if isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT"):
            reply = self._call(hiredis.pack_command(("EVAL", script.body, len(keys), *keys, *args)))
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # ------------------------------------------------------------- connections

    def _call(self, packed: bytes):
        try:
            connection, reused = self._idle.pop(), True
        except IndexError:  # none idle (or another thread took the last one)
            connection, reused = self._connect(), False
        try:
            reply = connection.call(packed)
        except ConnectionError:
            connection.close()
            if not reused:
                raise
            # It lay idle while Redis went away and came back (or dropped idle
            # clients): the command never reached a live server. Once more, fresh.
            connection = self._connect()
            try:
                reply = connection.call(packed)
            except BaseException:
                connection.close()
                raise
        except BaseException:  # a timeout, an unparsable reply, an interrupt: the stream is unsure
            connection.close()
            raise
        self._idle.append(connection)
        return reply

    def _connect(self) -> _Connection:
        try:
            if isinstance(self.address, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout_s)
                sock.connect(self.address)
            else:
                sock = socket.create_connection(self.address, timeout=self.connect_timeout_s)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except socket.timeout as exc:
            raise TimeoutError(f"Redis did not accept a connection in time: {exc}") from exc
        except OSError as exc:
            raise ConnectionError(f"cannot reach Redis: {exc}") from exc
        # Blocking, with the kernel keeping the timeouts: a Python-side timeout
        # would poll before every send and receive.
        sock.settimeout(None)
        seconds = int(self.timeout_s)
        timeval = struct.pack("ll", seconds, int((self.timeout_s - seconds) * 1e6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        connection = _Connection(sock)
        try:
            self._greet(connection)
        except Exception:
            connection.close()
            raise
        return connection

    def _greet(self, connection: _Connection) -> None:
        """Log in and pick the database, as redis-py does on connecting."""
        commands = []
        if self.password:
            commands.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        for command in commands:
            reply = connection.call(hiredis.pack_command(command))
            if isinstance(reply, ResponseError):
                raise ConnectionError(f"Redis refused {command[0]}: {reply}")

    def _forget_inherited(self) -> None:
        # The parent's sockets are the parent's: a child writing to them would
        # interleave its commands with the parent's on one stream.
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _after_fork_in_child() -> None:
    for line in list(_LINES):
        line._forget_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)
