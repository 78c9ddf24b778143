"""The inbox's doorbell: a webhook that stored a text wakes the drainer at once.

Without it the drainer had to look for texts 20 times a second, day and night,
and that idle polling cost about 5% of a core on the small machines the
gateway runs on. With it the drainer sleeps until a text comes, and looks on its
own only once a second, in case a ring was missed.

On SQLite (one host, the inbox a file beside the database) the bell is a named
pipe (FIFO) in the instance folder: the drainer holds it open and waits on it; a
webhook writes one byte. On PostgreSQL, where webhooks and drainers may be on
different hosts, it is the database's own: a trigger on the ``inbox`` table
(migration 0015) sends ``NOTIFY inbox`` as each insert commits, so the webhook
spends nothing more on it, and every drainer, wherever it runs, ``LISTEN``s
(``Notices``). Either way it is a hint, never the record: the text is already
committed to the inbox before the ring, so a lost ring costs at most the
fallback second.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import stat
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Doorbell:
    def __init__(self, folder: Path):
        self.path = Path(folder) / "inbox.bell"
        self._writer: int | None = None  # a webhook process's end, kept open between texts
        self._reader: int | None = None  # the drainer's end
        # A web process rings from its request and from the spool's watcher thread.
        # Unguarded, both could open a writer (one leaked), or one could write to the
        # number the other had just closed, which the kernel may by then have given to
        # another file, such as a database socket.
        self._writing = threading.Lock()

    # ------------------------------------------------------------------ webhook side

    def ring(self) -> None:
        """Wake the drainer, if one is listening; never raises, never blocks."""
        with self._writing:
            try:
                if self._writer is None:
                    # Non-blocking: with no drainer holding the pipe open this fails
                    # (ENXIO) at once, instead of waiting for a reader.
                    self._writer = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.write(self._writer, b"!")
            except BlockingIOError:
                pass  # the pipe is full of rings the drainer has not read: it is awake already
            except OSError:
                # No drainer (ENXIO), no bell yet (ENOENT), or the drainer went away
                # (EPIPE): open it afresh on the next text.
                self._close_writer()

    def _close_writer(self) -> None:
        if self._writer is not None:
            try:
                os.close(self._writer)
            except OSError:
                pass
            self._writer = None

    # ------------------------------------------------------------------ drainer side

    def wait(self, timeout: float) -> bool:
        """Sleep until a ring or ``timeout`` seconds; True if rung. Rings that came
        meanwhile are all taken, so one drain answers them all."""
        reader = self._open_reader()
        if reader is None:  # no bell possible here: behave as a plain sleep
            select.select([], [], [], timeout)
            return False
        ready, _, _ = select.select([reader], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(reader, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def _open_reader(self) -> int | None:
        if self._reader is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.mkfifo(self.path, 0o600)
                except FileExistsError:
                    if not stat.S_ISFIFO(os.stat(self.path).st_mode):
                        return None  # something else by that name: leave it be
                # Read and write: a pipe whose last writer closed reads as end of
                # file forever, and select would never sleep. Holding a write end
                # ourselves means it never has no writer.
                self._reader = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTSUP, errno.EINVAL):
                    raise
                return None
        return self._reader

    def close(self) -> None:
        with self._writing:
            self._close_writer()
        if self._reader is not None:
            os.close(self._reader)
            self._reader = None


class Notices:
    """The PostgreSQL bell: ``LISTEN inbox`` on a connection of the drainer's own,
    held open between waits. The webhook side is the table's trigger, so ``ring``
    has nothing to do. A connection the server dropped is opened afresh at the next
    wait; meanwhile a wait is a plain sleep (the drainer looks on its own anyway)."""

    CHANNEL = "inbox"

    def __init__(self, engine):
        self.engine = engine
        self._connection = None  # SQLAlchemy's pooled wrapper around the driver's connection

    def ring(self) -> None:
        """Nothing: the insert's own trigger rang."""

    def wait(self, timeout: float) -> bool:
        listener = self._listening()
        if listener is None:
            select.select([], [], [], timeout)
            return False
        try:
            rung = any(True for _ in listener.notifies(timeout=timeout, stop_after=1))
            if rung:  # every ring queued meanwhile is taken: one drain answers them all
                for _ in listener.notifies(timeout=0):
                    pass
            return rung
        except Exception as exc:  # the server went away: listen afresh next time
            log.warning("inbox: lost the database's notices (%s)", type(exc).__name__)
            self.close()
            return False

    def _listening(self):
        if self._connection is None:
            try:
                self._connection = self.engine.raw_connection()
                driver = self._connection.driver_connection
                driver.autocommit = True
                driver.execute(f"LISTEN {self.CHANNEL}")
            except Exception as exc:
                log.warning("inbox: cannot listen for texts (%s); looking every second", type(exc).__name__)
                self.close()
                return None
        return self._connection.driver_connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # never back to the pool, still listening
            except Exception:  # nosec B110 - closing a connection already gone
                pass
            self._connection = None
