"""Nothing we answered 2xx to is lost: texts that arrive while the database or
Redis is down are spooled to disk and processed once afterwards; when not even
the spool works, the provider is told to try again. The outages are real: the
gateway talks to the real servers through a proxy that the test cuts."""

from __future__ import annotations

import collections
import os
import threading
import time

import pytest
from sqlalchemy import func, select

from gateway.messaging import bulk
from gateway.store.models import InboundMessage, Member, OutboundMessage

from .fakes import drain
from .helpers import at_text, walk
from .outage import Outage

NUMBERS = [f"+85620555{n:05d}" for n in range(30001, 30021)]


def drained(app) -> None:
    """Drain the spool as the web process's watcher would, now."""
    assert app.extensions["spool"].drain(app.extensions["sms"].receive, wait=True) >= 0
    assert not app.extensions["spool"].pending()


def counts(app) -> tuple[int, int]:
    with app.extensions["db"].session() as db:
        return (db.scalar(select(func.count()).select_from(InboundMessage)),
                db.scalar(select(func.count()).select_from(OutboundMessage)))


@pytest.fixture
def redis_outage(make_app, redis_url):
    proxy, url = Outage.for_url(redis_url)
    yield proxy, make_app(redis_url=url)
    proxy.stop()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="needs a database server to take down: CI's second pass, on PostgreSQL")
def test_texts_that_arrive_while_the_database_is_down_are_processed_once_afterwards(make_app, database_url):
    proxy, url = Outage.for_url(database_url)
    try:
        app = make_app(database_url=url)
        client = app.test_client()
        proxy.cut()
        replies = [at_text(client, "HELP", phone=number, message_id=f"down-{number}") for number in NUMBERS]
        assert [r.status_code for r in replies] == [200] * 20  # each one fsynced to the spool first
        assert app.extensions["spool"].pending()
        proxy.restore()
        drained(app)
        # The provider did not retry (it got 200s); one redelivered anyway changes nothing.
        at_text(client, "HELP", phone=NUMBERS[0], message_id=f"down-{NUMBERS[0]}")
        assert counts(app) == (20, 20)  # every text, once; every reply, once
        assert not app.extensions["spool"].pending()
    finally:
        proxy.stop()


def test_texts_that_arrive_while_redis_is_down_are_processed_once_afterwards(redis_outage, fake_at):
    proxy, app = redis_outage
    client = app.test_client()
    proxy.cut()
    replies = [at_text(client, "HELP", phone=number, message_id=f"r-{number}") for number in NUMBERS[:10]]
    assert [r.status_code for r in replies] == [200] * 10
    assert counts(app) == (0, 0)
    proxy.restore()
    drained(app)
    assert counts(app) == (10, 10)
    drain(app)
    with app.extensions["db"].session() as db:
        assert set(db.scalars(select(OutboundMessage.status))) == {"sent"}


def test_while_the_spool_is_in_use_a_drain_keeps_what_still_fails(redis_outage):
    proxy, app = redis_outage
    client = app.test_client()
    proxy.cut()
    at_text(client, "HELP", phone=NUMBERS[0], message_id="k1")
    assert app.extensions["spool"].drain(app.extensions["sms"].receive, wait=True) == 0  # still down
    at_text(client, "HELP", phone=NUMBERS[1], message_id="k2")  # a newer one waits behind it
    proxy.restore()
    drained(app)
    with app.extensions["db"].session() as db:
        assert list(db.scalars(select(InboundMessage.provider_message_id).order_by(InboundMessage.id))) == [
            "k1", "k2"]


def test_a_text_that_cannot_be_made_durable_gets_a_503_so_the_provider_retries(redis_outage):
    proxy, app = redis_outage
    config = app.config["GATEWAY"]
    (config.instance_path / "spool").rmdir() if (config.instance_path / "spool").is_dir() else None
    (config.instance_path / "spool").write_text("not a folder")  # the disk cannot take it
    proxy.cut()
    assert at_text(app.test_client(), "HELP", phone=NUMBERS[0]).status_code == 503


def test_a_redis_outage_leaves_a_reply_in_the_database_for_the_reconciler(app, fake_at, monkeypatch):
    """A text processed just before Redis went: its reply row is committed but its
    job never reached Redis. The reconciler finds the row and queues it."""
    from gateway.messaging import reconciler

    services = app.extensions["services"]
    at_text(app.test_client(), "HELP", phone=NUMBERS[0])
    services.queues["replies"].empty()  # as if Redis had lost the job
    monkeypatch.setattr(reconciler, "STRANDED_AFTER_S", 0)
    assert reconciler.reconcile(services)["requeued"] == 1
    assert reconciler.reconcile(services)["requeued"] == 0  # its job is queued now: not twice
    drain(app)
    with app.extensions["db"].session() as db:
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
    with app.extensions["db"].session() as db:
        assert db.scalar(select(func.count()).select_from(Member)) == 8
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 8  # every text kept
        assert db.scalar(select(func.count()).select_from(Member)
                         .where(Member.consent_at.is_not(None), Member.name == "Noy")) == 8  # and registered


@pytest.mark.parametrize("seconds", [2, 10])
def test_a_redis_outage_mid_broadcast_and_it_still_finishes_with_nothing_lost(make_app, redis_url, fake_at,
                                                                              seconds):
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
    app = make_app(sms_provider="africastalking", at_api_url=fake_at.url, quiet_hours="off",
                   bulk_batch_size=20, redis_url=url)
    with app.extensions["db"].session() as db:
        many_members(db, 400)
    bulk.dispatch(app.extensions["services"], new_broadcast(app, {"lo": "ສະບາຍດີ"}))
    fake_at.delay = 0.05
    env = dict(worker_env(app, fake_at), REDIS_URL=url, BULK_BATCH_SIZE="20", RECONCILE_EVERY="2",
               JOB_STALE_AFTER="5", SENDING_TIMEOUT="3")
    worker = start_worker(env)
    try:
        deadline = time.monotonic() + 60
        while len(fake_at.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        proxy.cut()
        time.sleep(seconds)
        proxy.restore()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if {r.status for r in rows(app)} <= {"sent", "unknown"}:
                break
            time.sleep(0.5)
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
