"""The inbox: an inbound SMS is made durable in one short write, then processed in batches.

A webhook's only work is one INSERT into the ``inbox`` table and its commit; then
it answers the provider, and rings the drainer's doorbell (``doorbell.py``). The
drainer, a process of its own forked by ``outreach worker``, wakes at the ring
(or once a second on its own, in case a ring was lost) and takes the oldest
texts in batches. It
processes a batch in one transaction through ``SmsService.receive_batch`` (dedupe by
``inbound_messages``, her conversation, the poll answer, the reply's outbox row),
deletes the batch's rows, and hands the batch's replies to its reply sender
(``messaging/replies.py``), a thread that sends them at once; elsewhere (a test,
the phone simulator) they are queued as one RQ job (``send_replies``) per batch,
never a job, and a forked work-horse, per reply.
Texts from the spool (accepted while the database was down) and from the SMPP
link come in through ``add`` too, so one place processes every inbound text.

Why a process, and not a thread of the web workers: under load a web worker's
request thread holds the GIL, and a drainer thread beside it got a fraction of a
core, so texts were taken faster than they were processed. And why not a thread
of the RQ worker: RQ forks a work-horse per job, and a fork while another thread
is inside SQLite or a connection pool can leave the child deadlocked.

Why this order is safe:

- A text is deleted from the inbox only after it was processed and committed. A
  drainer that dies mid-batch leaves its rows to be processed again, and
  ``inbound_messages`` makes the second time a no-op, so nothing is lost and
  nothing is answered twice.
- While Redis is down the inbox still takes texts (it needs only the database);
  processing meets the outage, commits nothing, and tries again (backing off
  to 30 s). While the database is down the webhook falls back to
  the spool.
- A reply whose job could not be queued stays ``queued`` in the outbox, and the
  reconciler queues it after half a minute.

Several drainers at once. On PostgreSQL each worker host runs one, over the one
``inbox`` table: a drainer claims the members of a batch before processing it
(``claims.py``), so one member's texts are handled one at a time and in order
while other members' go through another drainer. On SQLite (one host, one
writer) drainers take turns through a file lock in the instance folder instead.

A text from a number erased after the text was accepted (one that waited in a
host's outage spool, or in the inbox) is dropped unprocessed: the erasure left a
tombstone, a keyed hash of the number (``store/models.py``), and the text's
``received_at`` is older than it. So an erasure on one host cannot be undone by
a text another host kept.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.schema import CreateTable

from gateway.channels.sms.claims import Claims
from gateway.channels.sms.doorbell import Doorbell, Notices
from gateway.channels.sms.service import SmsService
from gateway.channels.sms.spool import forget_lines
from gateway.messaging.replies import ReplySender, queue_job
from gateway.phone import phone_key, to_e164
from gateway.providers.base import Inbound
from gateway.outage import is_outage
from gateway.services import Services
from gateway.channels.sms.driver_insert import DriverInsert
from gateway.store.database import Database, upsert_dialect
from gateway.store.models import ErasureTombstone, InboxMessage, utcnow

log = logging.getLogger(__name__)
BATCH = 200
POLL_S = 0.05  # how often ``wait_for`` looks whether a text was processed
LOOK_EVERY_S = 1.0  # an idle drainer looks this often on its own, if no ring woke it
OUTAGE_BACKOFF_MAX_S = 30.0
CLAIMED_RETRY_S = 0.05  # texts another drainer holds: look again this soon
CLAIMED_PATIENCE_S = 1.0  # ... for this long, then wait for the bell like any idle turn
COLUMNS = (
    InboxMessage.id,
    InboxMessage.provider,
    InboxMessage.provider_message_id,
    InboxMessage.phone,
    InboxMessage.text,
    InboxMessage.received_at,
)


@lru_cache(maxsize=4)
def _inbox_insert(dialect_name: str):
    return upsert_dialect(dialect_name).insert(InboxMessage).on_conflict_do_nothing()


def _store(database: Database, folder: Path) -> Database:
    """Where the inbox lives. On PostgreSQL, the ``inbox`` table of the database
    itself (a webhook's insert and a batch's transaction lock different rows),
    through connections of its own in autocommit: the webhook's insert is then one
    round trip, with no ping and no BEGIN. On SQLite, which has one writer per
    file, a file of its own beside the database (``inbox.db``): otherwise every
    webhook would wait for the batch being processed to commit, and the webhooks'
    inserts would hold up the batch in turn."""
    if database.engine.dialect.name != "sqlite":
        return Database(database.url, autocommit=True)
    store = Database(f"sqlite:///{Path(folder).resolve() / 'inbox.db'}")
    with store.engine.begin() as connection:  # web workers start together: IF NOT EXISTS
        connection.execute(CreateTable(InboxMessage.__table__, if_not_exists=True))
    return store


class Inbox:
    def __init__(
        self, services: Services, sms: SmsService, folder: Path, batch: int = BATCH, sender: ReplySender | None = None
    ):
        self.services, self.sms, self.batch, self.sender = services, sms, batch, sender
        self.folder = Path(folder)
        self.store = _store(services.db, self.folder)
        self._insert = DriverInsert(
            self.store.engine,
            _inbox_insert(self.store.engine.dialect.name),
            ("provider", "provider_message_id", "phone", "text", "received_at"),
        )
        self.failed = self.folder / "inbox.failed.jsonl"  # texts that hit a bug, for a person
        self.secret = services.config.secret_key
        if self.store.engine.dialect.name == "sqlite":
            self.claims, self.bell = None, Doorbell(self.folder)
        else:
            self.claims, self.bell = Claims(self.store.engine, self.secret), Notices(self.store.engine)

    @classmethod
    def of(cls, services: Services, sender: ReplySender | None = None) -> Inbox:
        """This instance's inbox, for a process other than the web app (the
        worker's drainer, the SMPP link, a command)."""
        from gateway.channels.conversation import conversations_for

        return cls(
            services, SmsService(services, conversations_for(services)), services.config.instance_path, sender=sender
        )

    # ------------------------------------------------------------------ webhook side

    def add(self, inbound: Inbound, received_at: datetime | None = None) -> None:
        """Make one text durable: one INSERT, one commit. A redelivery of a text still
        waiting is dropped by the unique key. Raises the database's error when it
        is down (the caller spools). ``received_at``: when a host accepted it, if
        not now (a text from the outage spool)."""
        # Straight on the driver (``DriverInsert``): the webhook's only statement, on every text.
        self._insert(
            {
                "provider": inbound.provider,
                "provider_message_id": inbound.provider_message_id[:64],
                "phone": inbound.phone[:32],
                "text": inbound.text,
                "received_at": received_at or utcnow(),
            }
        )
        self.bell.ring()  # committed first: a ring is a hint, the row is the record

    # ------------------------------------------------------------------ erasure

    @contextmanager
    def held(self, phone: str):
        """No drainer processes a batch of texts from ``phone`` while this is held
        (on SQLite, no batch at all). An erasure holds it, so that no text of hers
        is in a batch being processed while she is erased; her tombstone keeps any
        accepted before and processed after from bringing her number back."""
        if self.claims is not None:
            with self.claims.held(phone):
                yield
        else:
            with self._turn(wait=True):
                yield

    def forget(self, phone: str) -> int:
        """Delete the texts from ``phone`` (E.164) that still wait, and the ones set
        aside in ``inbox.failed.jsonl``; returns how many. Call it inside ``held``.
        The inbox stores numbers as the provider sent them, so each is compared in
        E.164 (the table is short: texts wait in it for moments)."""
        with self.store.session() as db:
            hers = [
                row.id for row in db.execute(select(InboxMessage.id, InboxMessage.phone)) if to_e164(row.phone) == phone
            ]
            if hers:
                db.execute(delete(InboxMessage).where(InboxMessage.id.in_(hers)))
        return len(hers) + forget_lines(self.failed, phone)

    # ------------------------------------------------------------------ drainer side

    def pending(self) -> tuple[int, float | None]:
        """(texts waiting, seconds the oldest has waited) for /healthz."""
        with self.store.session() as db:
            count, oldest = db.execute(select(func.count(), func.min(InboxMessage.received_at))).one()
        return count, (utcnow() - oldest).total_seconds() if oldest is not None else None

    def wait_for(self, provider: str, message_id: str, timeout: float) -> bool:
        """Wait until a drainer has processed this text (the phone simulator, while
        a worker runs); False if it still waits after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.store.session() as db:
                if (
                    db.scalar(
                        select(InboxMessage.id).where(
                            InboxMessage.provider == provider, InboxMessage.provider_message_id == message_id
                        )
                    )
                    is None
                ):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)

    def drain(self, wait: bool = True) -> int:
        """Process waiting texts, oldest first, until none is left; returns how many
        were processed. Stops early, keeping the rest, when Redis or the database
        is down (the outage is raised). With ``wait`` False, returns 0 at once if
        another process is draining."""
        done = 0
        try:
            with self._turn(wait):
                waited = 0.0
                while True:
                    processed, left = self._drain_batch()
                    done += processed
                    if processed:
                        waited = 0.0
                        continue
                    if not left or waited >= CLAIMED_PATIENCE_S:
                        break
                    time.sleep(CLAIMED_RETRY_S)  # another drainer has them, for a moment
                    waited += CLAIMED_RETRY_S
        except BlockingIOError:
            return 0
        return done

    def _drain_batch(self) -> tuple[int, int]:
        """One batch: (texts gone from the inbox, texts left to another drainer)."""
        if self.claims is None:
            with self.store.session() as db:
                rows = db.execute(select(*COLUMNS).order_by(InboxMessage.id).limit(self.batch)).all()
            return self._process(rows), 0
        with self.store.session() as db:  # a wider look: some members may be another drainer's
            seen = db.execute(select(*COLUMNS).order_by(InboxMessage.id).limit(self.batch * 2)).all()
        if not seen:
            return 0, 0
        keys = {row.id: self.claims.key(row.phone) for row in seen}
        mine = self.claims.take(keys.values())
        try:
            ids = [row.id for row in seen if keys[row.id] in mine]
            if ids:
                with self.store.session() as db:  # those still waiting, now that their members are ours
                    rows = db.execute(select(*COLUMNS).where(InboxMessage.id.in_(ids)).order_by(InboxMessage.id)).all()
                self._process(rows)
            return len(ids), len(seen) - len(ids)
        finally:
            self.claims.release()

    def _process(self, rows) -> int:
        if not rows:
            return 0
        erased = self._erased_since(rows)
        kept = [row for row in rows if row.id not in erased]
        # An outage raises here with nothing committed: the rows stay for the next turn.
        handled = (
            self.sms.receive_batch(
                [Inbound(row.provider, row.provider_message_id, row.phone, row.text) for row in kept]
            )
            if kept
            else []
        )
        for row, outcome in zip(kept, handled, strict=True):
            if outcome.outcome == "failed":  # a bug must not hold up the texts behind it
                self._set_aside(row)
        if erased:
            log.info("inbox: %d text(s) from erased numbers dropped unread", len(erased))
        # Processed and committed: they leave the inbox (a crash just before this
        # makes them processed again, which inbound_messages turns into no-ops).
        with self.store.session() as db:
            db.execute(delete(InboxMessage).where(InboxMessage.id.in_([row.id for row in rows])))
        self._queue([message_id for outcome in handled for message_id in outcome.replies])
        return len(rows)

    def _erased_since(self, rows) -> set[int]:
        """The rows from a number erased after the row was accepted."""
        hashes = {row.id: phone_key(phone, self.secret) for row in rows if (phone := to_e164(row.phone))}
        if not hashes:
            return set()
        with self.services.db.session() as db:
            tombstones = dict(
                db.execute(
                    select(ErasureTombstone.phone_hash, ErasureTombstone.erased_at).where(
                        ErasureTombstone.phone_hash.in_(set(hashes.values()))
                    )
                ).all()
            )
        return {
            row.id
            for row in rows
            if row.id in hashes and hashes[row.id] in tombstones and row.received_at <= tombstones[hashes[row.id]]
        }

    def _queue(self, replies: list[int]) -> None:
        """The batch's replies go to this process's sender (the worker's drainer has
        one), or else as one RQ job (``messaging/replies.py``)."""
        if self.sender is not None:
            self.sender.send(replies)
        else:
            queue_job(self.services, replies)

    def _set_aside(self, row) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        line = (
            json.dumps(
                {"provider": row.provider, "id": row.provider_message_id, "phone": row.phone, "text": row.text},
                ensure_ascii=False,
            )
            + "\n"
        )
        fd = os.open(self.failed, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # her number: not for others
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def run(self, stop: threading.Event) -> None:
        """Drain until ``stop``: at once while texts wait, else at the doorbell's
        ring (or every ``LOOK_EVERY_S``). An outage backs off (up to 30 s) and keeps
        the texts; a bug in one batch is logged and the next turn goes on.
        ``outreach worker`` runs this in a process of its own (see
        ``messaging/worker.py``), which leaves by SystemExit from a signal
        handler, so the wait on the doorbell needs no ``stop`` of its own."""
        backoff = None  # while the last turn failed: seconds to wait before the next
        try:
            while not stop.is_set():
                try:
                    done = self.drain()
                    backoff = None
                except Exception as exc:
                    done = 0
                    if is_outage(exc):
                        log.warning("inbox: processing waits for %s; texts are kept", type(exc).__name__)
                        backoff = min(max((backoff or 0) * 2, 1.0), OUTAGE_BACKOFF_MAX_S)
                    else:
                        log.exception("inbox: drain failed")
                        backoff = 1.0
                if backoff is not None:
                    stop.wait(backoff)  # rings meanwhile must not hurry the retry
                elif not done:
                    self.bell.wait(LOOK_EVERY_S)
        finally:
            self.bell.close()
            if self.claims is not None:
                self.claims.close()

    @contextmanager
    def _turn(self, wait: bool):
        """On SQLite, one drainer at a time across this host's processes (on
        PostgreSQL, drainers claim members instead: ``_drain_batch``)."""
        if self.claims is not None:
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "inbox.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield
        finally:
            os.close(fd)
