"""Nothing we answered 2xx to is lost: texts that arrive while Redis is down wait
in the database's inbox, texts that arrive while the database is down are spooled
to disk, and both are processed once afterwards; when not even the spool works,
the provider is told to try again. The outages are real: the
gateway talks to the real servers through a proxy that the test cuts."""

from __future__ import annotations

import collections
import threading
import time

import pytest
from sqlalchemy import func, select

from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.messaging import bulk
from gateway.providers.base import Inbound
from gateway.runtime import runtime_of
from gateway.store.models import InboundMessage, Member, OutboundMessage

from .fakes import drain
from .helpers import at_text, wait_until, walk
from .outage import Outage

NUMBERS = [f"+85620555{n:05d}" for n in range(30001, 30021)]


def drained(app) -> None:
    """Drain the spool and the inbox as the web process's threads would, now."""
    assert runtime_of(app).spool.drain(runtime_of(app).inbox.add, wait=True) >= 0
    assert not runtime_of(app).spool.pending()
    runtime_of(app).inbox.drain(wait=True)
    assert runtime_of(app).inbox.pending()[0] == 0


def counts(app) -> tuple[int, int]:
    with runtime_of(app).db.session() as db:
        return (
            db.scalar(select(func.count()).select_from(InboundMessage)),
            db.scalar(select(func.count()).select_from(OutboundMessage)),
        )


@pytest.fixture
def redis_outage(make_app, redis_url):
    proxy, url = Outage.for_url(redis_url)
    yield proxy, make_app(redis_url=url)
    proxy.stop()


def test_texts_that_arrive_while_the_database_is_down_are_processed_once_afterwards(database_outage):
    app = database_outage.app
    client = app.test_client()
    # SQLite's lock costs each text its busy timeout (5 s), so fewer texts there.
    numbers = NUMBERS if database_outage.server else NUMBERS[:2]
    database_outage.cut()
    replies = [at_text(client, "HELP", phone=number, message_id=f"down-{number}") for number in numbers]
    assert [r.status_code for r in replies] == [200] * len(numbers)  # each one fsynced to the spool first
    assert runtime_of(app).spool.pending()
    database_outage.restore()
    drained(app)
    # The provider did not retry (it got 200s); one redelivered anyway changes nothing.
    at_text(client, "HELP", phone=numbers[0], message_id=f"down-{numbers[0]}")
    assert counts(app) == (len(numbers), len(numbers))  # every text, once; every reply, once
    assert not runtime_of(app).spool.pending()


def test_texts_that_arrive_while_redis_is_down_are_processed_once_afterwards(redis_outage, fake_at):
    proxy, app = redis_outage
    client = app.test_client()
    proxy.cut()
    replies = [at_text(client, "HELP", phone=number, message_id=f"r-{number}") for number in NUMBERS[:10]]
    assert [r.status_code for r in replies] == [200] * 10
    assert counts(app) == (0, 0)
    assert runtime_of(app).inbox.pending()[0] == 10  # durable in the database, not yet processed
    assert not runtime_of(app).spool.pending()  # the database was up: no need for the disk
    proxy.restore()
    drained(app)
    assert counts(app) == (10, 10)
    drain(app)
    with runtime_of(app).db.session() as db:
        assert set(db.scalars(select(OutboundMessage.status))) == {"sent"}


def test_while_redis_is_down_the_inbox_keeps_what_still_fails_in_order(redis_outage):
    proxy, app = redis_outage
    client = app.test_client()
    proxy.cut()
    at_text(client, "HELP", phone=NUMBERS[0], message_id="k1")
    with pytest.raises(RedisConnectionError):
        runtime_of(app).inbox.drain(wait=True)  # still down: nothing processed, nothing dropped
    at_text(client, "HELP", phone=NUMBERS[1], message_id="k2")  # a newer one waits behind it
    assert runtime_of(app).inbox.pending()[0] == 2
    proxy.restore()
    drained(app)
    with runtime_of(app).db.session() as db:
        assert list(db.scalars(select(InboundMessage.provider_message_id).order_by(InboundMessage.id))) == ["k1", "k2"]


class DatabaseOutage:
    """The inbox's database stops taking writes. On a server, through the cut proxy;
    on SQLite, which has no server to stop, its file is locked by another writer
    (a write then fails after SQLite's busy timeout, as it would on a full disk)."""

    def __init__(self, make_app, database_url):
        self.server = not database_url.startswith("sqlite")
        self.proxy, url = Outage.for_url(database_url) if self.server else (None, database_url)
        self.app = make_app(database_url=url)
        self.blocker = None

    def cut(self):
        if self.server:
            return self.proxy.cut()
        self.blocker = runtime_of(self.app).inbox.store.engine.connect()
        self.blocker.exec_driver_sql("BEGIN EXCLUSIVE")

    def restore(self):
        if self.server:
            return self.proxy.restore()
        self.blocker.exec_driver_sql("ROLLBACK")
        self.blocker.close()

    def stop(self):
        if self.proxy is not None:
            self.proxy.stop()


@pytest.fixture
def database_outage(make_app, database_url):
    outage = DatabaseOutage(make_app, database_url)
    yield outage
    outage.stop()


def test_while_the_spool_is_in_use_a_drain_keeps_what_still_fails(database_outage):
    """The spool holds what the webhook could not put in the database; its drain
    moves texts into the inbox, and stops at the first the database still refuses."""
    app = database_outage.app
    spool, inbox = runtime_of(app).spool, runtime_of(app).inbox
    spool.add(Inbound("africastalking", "k1", NUMBERS[0], "HELP"))
    database_outage.cut()
    assert spool.drain(inbox.add, wait=True) == 0  # still down
    spool.add(Inbound("africastalking", "k2", NUMBERS[1], "HELP"))  # a newer one waits behind it
    database_outage.restore()
    drained(app)
    with runtime_of(app).db.session() as db:
        assert list(db.scalars(select(InboundMessage.provider_message_id).order_by(InboundMessage.id))) == ["k1", "k2"]


def test_a_text_that_cannot_be_made_durable_gets_a_503_so_the_provider_retries(database_outage):
    """Neither the database (for the inbox) nor the disk (for the spool) takes it."""
    app = database_outage.app
    config = app.config["GATEWAY"]
    (config.instance_path / "spool").rmdir() if (config.instance_path / "spool").is_dir() else None
    (config.instance_path / "spool").write_text("not a folder")
    database_outage.cut()
    assert (
        app.test_client()
        .post("/sms/africastalking", data={"from": NUMBERS[0], "to": "20880", "text": "HELP", "id": "x503"})
        .status_code
        == 503
    )
    database_outage.restore()


def test_a_redis_outage_leaves_a_reply_in_the_database_for_the_reconciler(app, fake_at, monkeypatch):
    """A text processed just before Redis went: its reply row is committed but its
    job never reached Redis. The reconciler finds the row and queues it."""
    from gateway.messaging import reconciler

    services = runtime_of(app).services
    at_text(app.test_client(), "HELP", phone=NUMBERS[0])
    services.queues["replies"].empty()  # as if Redis had lost the job
    monkeypatch.setattr(reconciler, "STRANDED_AFTER_S", 0)
    assert reconciler.reconcile(services)["requeued"] == 1
    assert reconciler.reconcile(services)["requeued"] == 0  # its job is queued now: not twice
    drain(app)
    with runtime_of(app).db.session() as db:
        assert list(db.scalars(select(OutboundMessage.status))) == ["sent"]


def test_a_registration_and_a_first_text_at_once_make_one_member_and_lose_nothing(app, phone_factory):
    handsets = [phone_factory(number) for number in NUMBERS[:8]]
    for handset in handsets:  # English, name, organisation, region, province, topics ...
        walk(handset, "0", "Noy", "0", "1", "1", "1 3")  # ... to the consent screen
    barrier = threading.Barrier(2 * len(handsets))

    def register(handset):
        barrier.wait()
        handset.press("1")

    def text(number):
        barrier.wait()
        at_text(app.test_client(), "HELP", phone=number, message_id=f"first-{number}")

    threads = [threading.Thread(target=register, args=(h,)) for h in handsets]
    threads += [threading.Thread(target=text, args=(n,)) for n in NUMBERS[:8]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Member)) == 8
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 8  # every text kept
        assert (
            db.scalar(
                select(func.count()).select_from(Member).where(Member.consent_at.is_not(None), Member.name == "Noy")
            )
            == 8
        )  # and registered


@pytest.mark.parametrize("seconds", [2, 10])
def test_a_redis_outage_mid_broadcast_and_it_still_finishes_with_nothing_lost(make_app, redis_url, fake_at, seconds):
    """A real worker process sends through the proxy; Redis goes away mid-broadcast.
    The worker waits for it, its reconciler revives what the outage interrupted,
    and every member ends with one copy (or, for a request in flight, unknown)."""
    from .test_broadcasts import (
        accepted_phones,
        many_members,
        new_broadcast,
        rows,
        start_worker,
        worker_env,
    )

    proxy, url = Outage.for_url(redis_url)
    app = make_app(
        sms_provider="africastalking", at_api_url=fake_at.url, quiet_hours="off", bulk_batch_size=20, redis_url=url
    )
    with runtime_of(app).db.session() as db:
        many_members(db, 400)
    bulk.dispatch(runtime_of(app).services, new_broadcast(app, {"lo": "ສະບາຍດີ"}))
    fake_at.delay = 0.05
    env = dict(
        worker_env(app, fake_at),
        REDIS_URL=url,
        BULK_BATCH_SIZE="20",
        RECONCILE_EVERY="2",
        JOB_STALE_AFTER="5",
        SENDING_TIMEOUT="3",
    )
    worker = start_worker(env)
    try:
        wait_until(lambda: len(fake_at.requests) >= 3, 60, "the broadcast under way")
        proxy.cut()
        time.sleep(seconds)
        proxy.restore()
        wait_until(
            lambda: {r.status for r in rows(app)} <= {"sent", "unknown"},
            120,
            "the broadcast finished after Redis came back",
            every_s=0.5,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        proxy.stop()
    statuses = collections.Counter(r.status for r in rows(app))
    accepted = accepted_phones(fake_at)
    assert set(statuses) <= {"sent", "unknown"}, statuses  # it finished: nothing left behind
    assert max(accepted.values()) == 1  # nobody got two copies
    assert statuses["sent"] <= len(accepted) and statuses["sent"] + statuses["unknown"] == 400
    assert statuses["unknown"] <= 20  # at most the one request in flight
