"""The inbox: a webhook stores the text and answers; a drainer processes texts in
batches and sends the replies. Real SQLite/PostgreSQL, real Redis, the real
Africa's Talking SDK against its local fake."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from gateway.channels.sms import keywords
from gateway.messaging import reconciler
from gateway.messaging.replies import ReplySender
from gateway.providers.base import Inbound
from gateway.runtime import runtime_of
from gateway.store.models import InboundMessage, InboxMessage, Member, OutboundMessage, utcnow

from .fakes import drain
from .helpers import at_webhook as post  # the webhook alone: nothing drains
from .helpers import wait_until

MEMBERS = [f"+8562055540{n:03d}" for n in range(10)]


def counts(app) -> tuple[int, int]:
    with runtime_of(app).db.session() as db:
        return (
            db.scalar(select(func.count()).select_from(InboundMessage)),
            db.scalar(select(func.count()).select_from(OutboundMessage)),
        )


def test_the_webhook_only_stores_the_text_and_health_counts_what_waits(app):
    client = app.test_client()
    assert post(client, "HELP", MEMBERS[0], "w1").status_code == 200
    assert post(client, "HELP", MEMBERS[0], "w1").status_code == 200  # a redelivery while it waits
    assert counts(app) == (0, 0)
    health = client.get("/healthz").get_json()
    assert health["inbox"]["waiting"] == 1 and health["inbox"]["oldest_s"] >= 0
    assert not any("inbox" in warning for warning in health["warnings"])  # it has not waited long
    with runtime_of(app).inbox.store.session() as db:  # as if no worker had run for a minute
        db.execute(update(InboxMessage).values(received_at=utcnow() - timedelta(seconds=60)))
    late = client.get("/healthz").get_json()
    assert "inbox: 1 text(s) waiting, the oldest for 60 s" in late["warnings"]
    assert runtime_of(app).inbox.drain() == 1
    assert counts(app) == (1, 1)
    assert client.get("/healthz").get_json()["inbox"] == {"waiting": 0, "oldest_s": None}


def test_a_batch_is_processed_in_order_with_one_job_for_its_replies(at_app, fake_at):
    client = at_app.test_client()
    for n in range(30):  # three texts from each of ten members: JOIN, then her name, then help
        phone = MEMBERS[n % 10]
        text = ["JOIN", "0", "Noy"][n // 10]
        post(client, text, phone, f"b{n}")
    assert runtime_of(at_app).inbox.drain() == 30
    assert counts(at_app)[0] == 30
    replies_queue = runtime_of(at_app).queues["replies"]
    assert replies_queue.count == 1  # not one forked job per reply
    drain(at_app)
    recipients = [number for request in fake_at.requests for number in request["to"].split(",")]
    assert sorted(recipients) == sorted(MEMBERS * 3)  # replies to the same words share a request
    # Each member's texts were processed in the order she sent them: the flow moved on.
    with runtime_of(at_app).db.session() as db:
        for phone in MEMBERS:
            mine = list(
                db.scalars(
                    select(OutboundMessage.body).join(Member).where(Member.phone == phone).order_by(OutboundMessage.id)
                )
            )
            assert "English: 0" in mine[0]  # the welcome, in Lao first
            assert "name" in mine[1].lower() and "organisation" in mine[2].lower()


def test_her_replies_go_out_in_the_order_she_texted_even_when_another_shares_their_words(at_app, fake_at):
    """Replies sharing words share a request. Here another member's JOIN came
    first, so the welcome's request was the batch's first, and her reply to HELP
    (her first text) went after her welcome (her second). Each of her replies now
    waits for the one before it."""
    client = at_app.test_client()
    post(client, "JOIN", MEMBERS[0], "o1")
    post(client, "HELP", MEMBERS[1], "o2")
    post(client, "JOIN", MEMBERS[1], "o3")
    assert runtime_of(at_app).inbox.drain() == 3
    drain(at_app)
    hers = [request["message"] for request in fake_at.requests if MEMBERS[1] in request["to"].split(",")]
    welcome = next(request["message"] for request in fake_at.requests if MEMBERS[0] in request["to"])
    assert len(hers) == 2 and hers[1] == welcome and hers[0] != welcome, hers
    # Three requests, not two: her welcome waited for her first reply, so it could
    # not share the other member's request. Order is worth the request.
    assert len(fake_at.requests) == 3


def test_a_reply_refused_for_now_holds_back_her_later_ones_until_its_retry(at_app, fake_at):
    """Her first reply's request gets a 500 (refused for now): it goes back to the
    queue, and her second waits with it instead of going ahead; the retry sends
    both, in order."""
    client = at_app.test_client()
    post(client, "HELP", MEMBERS[2], "h1")
    post(client, "JOIN", MEMBERS[2], "h2")
    assert runtime_of(at_app).inbox.drain() == 2
    fake_at.script = ["500"]
    drain(at_app)  # the job's first try fails; RQ retries it (at once, in this burst worker)
    with runtime_of(at_app).db.session() as db:
        if "queued" in set(db.scalars(select(OutboundMessage.status))):  # a retry still to run
            drain(at_app)
        assert sorted(db.scalars(select(OutboundMessage.status))) == ["sent", "sent"]
    bodies = [request["message"] for request in fake_at.requests]
    assert len(bodies) == 2 and "ສະໝັກ" in bodies[0] and "English: 0" in bodies[1], bodies


def sent(app) -> int:
    with runtime_of(app).db.session() as db:
        return db.scalar(select(func.count()).select_from(OutboundMessage).where(OutboundMessage.status == "sent"))


def test_the_drainer_sends_replies_itself_and_twice_processed_texts_answer_once(at_app, fake_at, monkeypatch):
    """As in ``outreach worker``'s drainer process: ``run`` with a reply sender."""
    from gateway.channels.sms.inbox import Inbox

    services = runtime_of(at_app).services
    inbox = Inbox(services, runtime_of(at_app).sms, services.config.instance_path, sender=ReplySender(services))
    client = at_app.test_client()
    for n, phone in enumerate(MEMBERS):
        post(client, "HELP", phone, f"d{n}")
    # A drainer that died after processing, before deleting: the texts are processed again.
    runtime_of(at_app).sms.receive_batch([Inbound("africastalking", "d0", MEMBERS[0], "HELP")])
    stop = threading.Event()
    thread = threading.Thread(target=inbox.run, args=(stop,), daemon=True)
    thread.start()
    wait_until(lambda: sent(at_app) >= 9, 15, "nine replies sent by the drainer")
    stop.set()
    thread.join(timeout=5)
    assert counts(at_app) == (10, 10)  # d0 once, and one reply to it
    recipients = [number for request in fake_at.requests for number in request["to"].split(",")]
    assert sorted(recipients) == sorted(MEMBERS[1:])  # each once, and no RQ job was needed
    assert runtime_of(at_app).queues["replies"].count == 0
    # The dead drainer's reply to d0 was written but never handed over: the
    # reconciler finds it queued and queues it.
    monkeypatch.setattr(reconciler, "STRANDED_AFTER_S", 0)
    assert reconciler.reconcile(services)["requeued"] == 1
    drain(at_app)
    assert sent(at_app) == 10
    recipients = [number for request in fake_at.requests for number in request["to"].split(",")]
    assert sorted(recipients) == sorted(MEMBERS)  # d0's reply too, and still each member once


def test_the_webhook_rings_the_idle_drainer_awake_and_a_new_drainer_hears_it_too(at_app, monkeypatch):
    """The drainer sleeps on the doorbell instead of polling: its own look comes
    only every 30 s here, so a text processed within seconds was rung awake. A
    drainer that stops and another that starts: the webhook's ring reaches the
    new one (its open end met the old one's exit, and it opens the bell again)."""
    from gateway.channels.sms import inbox as inbox_module
    from gateway.channels.sms.inbox import Inbox

    monkeypatch.setattr(inbox_module, "LOOK_EVERY_S", 30.0)
    services, client = runtime_of(at_app).services, at_app.test_client()
    post(client, "HELP", MEMBERS[0], "early")  # before any drainer: nothing listens, nothing breaks

    for turn in range(2):
        drainer = Inbox(services, runtime_of(at_app).sms, services.config.instance_path, sender=ReplySender(services))
        stop = threading.Event()
        thread = threading.Thread(target=drainer.run, args=(stop,), daemon=True)
        thread.start()
        time.sleep(0.3)  # it has drained what waited and sleeps on the bell
        started = time.monotonic()
        post(client, "HELP", MEMBERS[1 + turn], f"rung-{turn}")
        while counts(at_app)[0] < 2 + turn and time.monotonic() - started < 10:
            time.sleep(0.01)
        assert counts(at_app)[0] == 2 + turn, "the ring did not wake the drainer"
        assert time.monotonic() - started < 5  # well before its own look at 30 s
        stop.set()
        _ring(runtime_of(at_app).inbox)  # wake it to see ``stop``
        thread.join(timeout=5)
        assert not thread.is_alive()


def _ring(inbox) -> None:
    """Ring as an insert does: on PostgreSQL the table's trigger notifies."""
    if inbox.claims is None:
        inbox.bell.ring()
        return
    from sqlalchemy import text

    with inbox.store.engine.connect() as connection:
        connection.execute(text("NOTIFY inbox"))


def test_the_doorbell_survives_its_drainer_going_away_and_never_blocks_a_webhook(tmp_path):
    from gateway.channels.sms.doorbell import Doorbell

    webhook = Doorbell(tmp_path)
    webhook.ring()  # no bell yet (no drainer ever ran): nothing raised
    first = Doorbell(tmp_path)
    assert first.wait(0.01) is False  # makes the bell; nothing rang
    webhook.ring()
    webhook.ring()
    assert first.wait(5) is True and first.wait(0.01) is False  # both rings taken at once
    first.close()  # the drainer went away: the pipe has no reader
    webhook.ring()  # EPIPE: dropped, the end closed
    assert webhook._writer is None
    second = Doorbell(tmp_path)
    assert second.wait(0.01) is False
    for _ in range(70_000):  # more rings than the pipe holds (64 KiB): none blocks
        webhook.ring()
    assert second.wait(5) is True
    second.close()


def test_a_text_that_breaks_processing_is_set_aside_and_the_rest_go_on(app, monkeypatch):
    client = app.test_client()
    real_match = keywords.match

    def match(text):  # a bug that only this text meets
        if text == "BOOM":
            raise RuntimeError("a bug")
        return real_match(text)

    monkeypatch.setattr(keywords, "match", match)
    for n, text in enumerate(["HELP", "BOOM", "HELP"]):
        post(client, text, MEMBERS[n], f"x{n}")
    assert runtime_of(app).inbox.drain() == 3
    assert counts(app) == (2, 2)
    assert runtime_of(app).inbox.pending()[0] == 0
    failed = app.config["GATEWAY"].instance_path / "inbox.failed.jsonl"
    [line] = failed.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["id"] == "x1" and oct(failed.stat().st_mode)[-3:] == "600"


def test_hostile_webhook_input_is_answered_and_nothing_half_written(app):
    client = app.test_client()
    for form in [
        {},
        {"from": "", "text": "", "id": ""},
        {"from": "+85620555" + "9" * 300, "text": "x" * 5000, "id": "i" * 500},
        {"from": "not a number", "text": "\x00", "id": "bad"},
    ]:
        assert client.post("/sms/africastalking", data=form).status_code == 200
    broken = b"from=%2B8562055540001&text=%ED%A0%80%FF&id=utf8&to=20880"  # not UTF-8 at all
    assert (
        client.post("/sms/africastalking", data=broken, content_type="application/x-www-form-urlencoded").status_code
        == 200
    )
    runtime_of(app).inbox.drain()
    assert runtime_of(app).inbox.pending()[0] == 0
    with runtime_of(app).db.session() as db:  # only the real number's garbage earned a reply: help
        [row] = db.scalars(select(OutboundMessage)).all()
        assert db.get(Member, row.member_id).phone == "+8562055540001"


def test_rings_from_two_threads_never_leave_a_second_writer_open(tmp_path):
    """A web process rings from its requests and from the spool's watcher thread.
    Both opening the bell at once leaked a descriptor each time (and one could
    write to a descriptor the other had just closed)."""
    import os
    import threading

    from gateway.channels.sms.doorbell import Doorbell

    def bell_ends() -> int:
        ends = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                ends += os.readlink(f"/proc/self/fd/{fd}") == str(webhook.path)
            except OSError:
                pass
        return ends

    webhook = Doorbell(tmp_path)
    stop = threading.Event()

    def ring():
        while not stop.is_set():
            webhook.ring()

    ringers = [threading.Thread(target=ring) for _ in range(4)]
    for thread in ringers:
        thread.start()
    try:
        for _ in range(100):  # drainers come and go: each going makes the ringers reopen
            drainer = Doorbell(tmp_path)
            drainer.wait(0.001)
            drainer.close()
    finally:
        stop.set()
        for thread in ringers:
            thread.join()
    assert bell_ends() <= 1  # the webhook's one writer, or none
    webhook.close()
    assert bell_ends() == 0


def test_a_batch_of_people_new_to_us_makes_each_one_row_and_links_her_texts(app):
    """Texts from numbers we have never seen (a keyword on a poster): their rows are
    made for the whole batch at once, each text is linked to its sender, a second
    text of hers finds the row her first made, and a redelivery makes nobody, not
    even after she was erased."""
    from gateway.channels.erasure import erase_member

    client, newcomers = app.test_client(), [f"+8562055541{n:03d}" for n in range(5)]
    for n, phone in enumerate(newcomers):
        post(client, "HELP", phone, f"new{n}")
    post(client, "JOIN", newcomers[0], "new-second")  # her second text, in the same batch
    post(client, "HELP", newcomers[1], "new1")  # a redelivery, in the same batch
    assert runtime_of(app).inbox.drain() == 6
    with runtime_of(app).db.session() as db:
        made = {m.phone: m for m in db.scalars(select(Member).where(Member.phone.in_(newcomers)))}
        assert sorted(made) == newcomers and {m.source for m in made.values()} == {"sms"}
        linked = dict(db.execute(select(InboundMessage.provider_message_id, InboundMessage.member_id)).all())
        assert linked == {
            **{f"new{n}": made[phone].id for n, phone in enumerate(newcomers)},
            "new-second": made[newcomers[0]].id,
        }
        replied = db.scalars(select(OutboundMessage.member_id)).all()
        assert sorted(replied) == sorted([m.id for m in made.values()] + [made[newcomers[0]].id])
        gone = made[newcomers[2]].id
    erase_member(runtime_of(app).services, runtime_of(app).inbox, runtime_of(app).spool, gone, "test")
    post(client, "HELP", newcomers[2], "new2")  # the provider redelivers her old text
    assert runtime_of(app).inbox.drain() == 1
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Member).where(Member.phone == newcomers[2])) == 0
