"""Erasure, access and retention, through the real commands, on SQLite or
PostgreSQL: after ``members erase`` her number and name are nowhere in the
database or in Redis, while the totals she counted in stay."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import JSON, String, func, select, update

from gateway.messaging import reconciler
from gateway.runtime import runtime_of
from gateway.store.models import AuditEvent, Base, InboxMessage, Member, OutboundMessage, PollReply, QuizAnswer, utcnow

from .helpers import at_text, walk

NUMBER = "+8562055512399"
NAME = "Vongdeuan"
ORGANISATION = "Lao Youth Network"


def forms_of(number: str) -> list[str]:
    digits = number.lstrip("+")
    return [number, digits, "0" + digits[3:], digits[3:]]


def everything_in_the_database(app) -> str:
    """Every text and JSON column of every row of every table, as one string."""
    parts = []
    with runtime_of(app).db.session() as db:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, JSON))]
            if columns:
                for row in db.execute(select(*columns)):
                    parts += [json.dumps(value, ensure_ascii=False) for value in row]
    return "\n".join(parts)


def everything_in_redis(app) -> str:
    redis, parts = runtime_of(app).redis, []
    for key in redis.scan_iter():
        parts.append(key.decode("utf-8", "replace"))
        kind = redis.type(key)
        if kind == b"string":
            parts.append((redis.get(key) or b"").decode("utf-8", "replace"))
        elif kind == b"hash":
            parts += [v.decode("utf-8", "replace") for v in redis.hvals(key)]
        elif kind == b"list":
            parts += [v.decode("utf-8", "replace") for v in redis.lrange(key, 0, -1)]
    return "\n".join(parts)


def test_erase_leaves_no_number_or_name_anywhere_and_keeps_the_totals(app, phone_factory, run):
    handset = phone_factory(NUMBER)
    # Registered, in English; then she dials again for the quiz, answers one
    # question and hangs up mid-quiz: her state waits in Redis for her to resume.
    walk(handset, "2", NAME, ORGANISATION, "1", "1", "1 3", "1")
    walk(handset, "2", "3")
    at_text(app.test_client(), "HELP", phone=NUMBER)  # a reply row with its text
    with runtime_of(app).db.session() as db:
        answers = db.scalar(select(func.count()).select_from(QuizAnswer))
    assert answers == 1
    assert NAME in everything_in_redis(app)  # her name is in her saved USSD state

    shown = run("members", "show", NUMBER, "--json")
    assert shown.exit_code == 0, shown.output
    held = json.loads(shown.output)
    assert (held["phone"], held["name"], held["organisation"]) == (NUMBER, NAME, ORGANISATION)
    assert held["messages_sent_to_her"] and held["quiz_attempts"]
    # The same, as an organiser reads it at a terminal (her topics are plain words).
    plain = run("members", "show", NUMBER)
    assert plain.exit_code == 0, plain.output
    assert f"name: {NAME}" in plain.output
    assert f"topics: {', '.join(held['topics'])}" in plain.output
    assert f"quiz_attempts: {len(held['quiz_attempts'])}" in plain.output

    refused = run("members", "erase", NUMBER, input="n\n")
    assert "nothing was erased" in refused.output
    erased = run("members", "erase", "020 5551 2399", "--yes")  # as an organiser would type it
    assert erased.exit_code == 0 and "erased" in erased.output, erased.output

    database, redis = everything_in_the_database(app), everything_in_redis(app)
    for needle in forms_of(NUMBER) + [NAME, ORGANISATION]:
        assert needle not in database, f"{needle} still in the database"
        assert needle not in redis, f"{needle} still in Redis"
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(QuizAnswer)) == answers  # totals stay
        assert db.scalar(select(func.count()).select_from(OutboundMessage)) >= 1  # rows stay, words go
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "member.erase"))
        assert event.subject.startswith("member ") and event.actor.startswith("cli")
    assert NAME not in run("members", "export").output
    assert run("members", "show", NUMBER).exit_code == 1  # nothing left to show
    # She may come back: a new text from the number makes a new, empty member.
    at_text(app.test_client(), "HELP", phone=NUMBER)
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Member)) == 2


def test_erase_deletes_her_texts_still_waiting_so_none_brings_her_back(app, run):
    """A text accepted while no worker ran waits in the inbox; one set aside, and
    one spooled in an outage, wait in files. Erasing her deletes all three (and
    no one else's), so draining afterwards cannot make her number a member again."""
    from gateway.channels.sms.spool import Spool
    from gateway.providers.base import Inbound

    other = "+8562055512388"
    client, folder = app.test_client(), app.config["GATEWAY"].instance_path
    at_text(client, "HELP", phone=NUMBER)  # she is a member
    for phone, message_id in ((NUMBER, "wait-1"), (other, "wait-2")):  # the webhook alone: they wait
        assert (
            client.post(
                "/sms/africastalking", data={"from": phone, "to": "20880", "text": "HELP", "id": message_id}
            ).status_code
            == 200
        )
    spool = Spool(folder / "spool")
    for phone, message_id in (("856 20 5551 2399", "spooled-1"), (other, "spooled-2")):
        spool.add(Inbound("africastalking", message_id, phone, "HELP"))
    aside = folder / "inbox.failed.jsonl"
    aside.write_text(
        "".join(
            json.dumps({"provider": "africastalking", "id": f"bug-{n}", "phone": phone, "text": "BOOM"}) + "\n"
            for n, phone in enumerate((NUMBER, other))
        )
    )

    erased = run("members", "erase", NUMBER, "--yes")
    assert erased.exit_code == 0 and "3 unprocessed text(s) of hers" in erased.output, erased.output

    inbox = runtime_of(app).inbox
    with inbox.store.session() as db:
        assert [m.phone for m in db.scalars(select(InboxMessage))] == [other]
    for path in (aside, spool.path):
        text = path.read_text(encoding="utf-8")
        assert other in text and not any(form in text for form in forms_of(NUMBER) + ["856 20 5551 2399"])
    assert oct(aside.stat().st_mode)[-3:] == "600"
    assert inbox.drain() == 1 and spool.drain(inbox.add) == 1 and inbox.drain() == 1  # the other's go on
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Member).where(Member.phone == NUMBER)) == 0
        assert db.scalar(select(func.count()).select_from(Member).where(Member.phone == other)) == 1


def test_retention_blanks_old_texts_once_a_day_and_keeps_the_rows(app):
    at_text(app.test_client(), "HELP", phone=NUMBER)
    services = runtime_of(app).services
    with services.db.session() as db:
        db.execute(update(OutboundMessage).values(status="sent", created_at=utcnow() - timedelta(days=200)))
        member = db.scalar(select(Member))
        db.add(
            PollReply(
                poll_id=_poll(db),
                member_id=member.id,
                reason="invalid",
                text="maybe",
                received_at=utcnow() - timedelta(days=200),
            )
        )
    assert reconciler.reconcile(services)["retention_messages"] == 1
    assert "retention_messages" not in reconciler.reconcile(services)  # once a day
    with services.db.session() as db:
        assert [m.body for m in db.scalars(select(OutboundMessage))] == [""]
        assert [r.text for r in db.scalars(select(PollReply))] == [""]


def _poll(db) -> int:
    from gateway.store.models import Poll

    poll = Poll(
        code="P1",
        kind="poll",
        questions={"en": "?"},
        options=[{"en": "a"}],
        audience={},
        opens_at=utcnow(),
        closes_at=utcnow(),
    )
    db.add(poll)
    db.flush()
    return poll.id
