"""The inbound spool: texts we answered 200 to but could not process yet.

When the database or Redis is down, an inbound SMS cannot be processed, and the
provider will not send it again once we said 200. So the webhook appends it to
this spool (an append-only file in the instance folder, fsynced before the
answer, as Courier spools to disk) and answers 200; only if even that fails does
it answer 503, so that the provider retries. The spool is drained in order once
processing works again; a text processed twice is a no-op (inbound messages are
unique per provider and message id).

Several web processes share the spool: appends take a lock on ``spool.lock``, and
one drainer at a time moves the file aside (``inbound.draining.jsonl``) and works
through it, keeping whatever it could not process yet.

The spool is the one thing a host keeps that matters, so it never waits for a new
text to be drained: every web process (and the SMPP link) watches it from its
start, and drains it every ``DRAIN_EVERY_S`` once the database answers. Each line
says when the text was accepted (``at``), which goes with it into the inbox: a
member erased meanwhile, on any host, is not brought back by it (``inbox.py``).
``/healthz`` reports how many texts wait here, and for how long.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from gateway.phone import to_e164
from gateway.providers.base import Inbound
from gateway.outage import is_outage

log = logging.getLogger(__name__)
DRAIN_EVERY_S = 10


class Spool:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / "inbound.jsonl"
        self.draining = self.folder / "inbound.draining.jsonl"
        self.failed = self.folder / "inbound.failed.jsonl"  # for a person to look at
        self._watcher: threading.Thread | None = None

    def add(self, inbound: Inbound) -> None:
        """Append one text and fsync it; raises OSError if it cannot be made durable."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = (
            json.dumps(
                {
                    "provider": inbound.provider,
                    "id": inbound.provider_message_id,
                    "phone": inbound.phone,
                    "text": inbound.text,
                    "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        with self._locked("spool.lock"):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def pending(self) -> bool:
        return self.path.exists() or self.draining.exists()

    def depth(self) -> tuple[int, float | None]:
        """(texts waiting, seconds the oldest has waited) for /healthz; (0, None)
        at once when nothing is spooled, as nearly always."""
        count, oldest = 0, None
        for path in (self.draining, self.path):  # the file being drained holds the older texts
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                continue
            count += len(lines)
            if oldest is None and lines:
                oldest = _accepted_at(lines[0], path)
        age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest is not None else None
        return count, age

    def drain(self, receive: Callable[..., object], wait: bool = False) -> int:
        """Process spooled texts oldest first, including any spooled meanwhile; stop
        at the first that still meets an outage and keep it and those after it.
        Returns how many were processed (0 if another process is draining and
        ``wait`` is False). ``receive(inbound, received_at)`` takes each: the
        inbox's ``add``."""
        done = 0
        try:
            with self._locked("drain.lock", wait=wait):
                while True:
                    if not self.draining.exists():
                        with self._locked("spool.lock"):
                            if not self.path.exists():
                                break
                            os.replace(self.path, self.draining)
                    processed, finished = self._drain_file(receive)
                    done += processed
                    if not finished:
                        break
        except BlockingIOError:
            return 0  # another process is draining
        if done:
            log.info("spool: %d text(s) processed after an outage", done)
        return done

    def _drain_file(self, receive) -> tuple[int, bool]:
        lines = self.draining.read_text(encoding="utf-8").splitlines()
        for done, line in enumerate(lines):
            try:
                record = json.loads(line)
            except ValueError:  # a torn last line from a crash mid-append
                continue
            try:
                receive(
                    Inbound(record["provider"], record["id"], record["phone"], record["text"]),
                    _accepted_at(line, self.draining),
                )
            except Exception as exc:
                if is_outage(exc):
                    log.warning("spool: %d text(s) still waiting; %s", len(lines) - done, type(exc).__name__)
                    self._keep(lines[done:])
                    return done, False
                log.exception(
                    "spool: a text could not be processed; set aside in %s", self.failed.name
                )  # it never blocks the ones after it
                fd = os.open(self.failed, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # her number
                with os.fdopen(fd, "a", encoding="utf-8") as file:
                    file.write(line + "\n")
        self.draining.unlink()
        return len(lines), True

    def watch(self, receive: Callable[..., object]) -> None:
        """Start this process's watcher (once): at once, and then every
        DRAIN_EVERY_S, it drains the spool if anything is in it, so texts spooled
        during an outage (this run's, or a run's before a restart) are processed
        soon after it, whether or not more texts arrive."""
        if self._watcher is not None and self._watcher.is_alive():
            return

        def work():
            while True:
                if self.pending():
                    try:
                        self.drain(receive)
                    except Exception:  # a bad minute must not stop the next one
                        log.exception("spool: drain failed")
                time.sleep(DRAIN_EVERY_S)

        self._watcher = threading.Thread(target=work, name="spool-watcher", daemon=True)
        self._watcher.start()

    def forget(self, phone: str) -> int:
        """Remove the texts from ``phone`` (E.164) from the spool, the file being
        drained and the set-aside file (an erasure); returns how many. Holds the
        drain lock, so no drain is reading the files meanwhile, and the append
        lock, so no text is appended to a file being rewritten."""
        with self._locked("drain.lock"), self._locked("spool.lock"):
            return sum(forget_lines(path, phone) for path in (self.path, self.draining, self.failed))

    def _keep(self, lines: list[str]) -> None:
        _rewrite(self.draining, lines)

    @contextmanager
    def _locked(self, name: str, wait: bool = True):
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield
        finally:
            os.close(fd)


def forget_lines(path: Path, phone: str) -> int:
    """Rewrite a file of texts (one JSON object per line, as the spool and the
    set-aside files hold them) without the lines from ``phone`` (E.164); returns
    how many went."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0
    kept = [line for line in lines if _sender(line) != phone]
    if len(kept) < len(lines):
        _rewrite(path, kept)
    return len(lines) - len(kept)


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace ``path`` by ``lines`` in one rename: a crash leaves the old file or
    the new, never half of each."""
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # numbers: not for others
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write("".join(line + "\n" for line in lines))
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def _accepted_at(line: str, path: Path) -> datetime:
    """When the line's text was accepted. A line from before the spool said so is
    given its file's last change, which is no earlier: an erasure after that
    still keeps it from bringing her back."""
    try:
        return datetime.fromisoformat(json.loads(line)["at"])
    except (ValueError, KeyError, TypeError):
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except OSError:
            return datetime.now(timezone.utc)


def _sender(line: str) -> str | None:
    try:
        return to_e164(str(json.loads(line)["phone"]))
    except (ValueError, KeyError, TypeError):
        return None  # a torn line from a crash mid-append: no one's
