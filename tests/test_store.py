"""The store on the real database: schema, times, CSV import and export."""

import os
import re
import subprocess
import sys
import time

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.content.vocabulary import Vocabulary
from gateway.errors import ImportRowError
from gateway.runtime import runtime_of
from gateway.store import members, schedule
from gateway.store.csvfile import read_rows
from gateway.store.database import Database
from gateway.store.models import Base, Member, TrainingSession

from .helpers import add_member, add_session


# PostgreSQL's trigram indexes for member search (migration 0016) have no model:
# SQLAlchemy's Index cannot say "on PostgreSQL only", and SQLite has no use for them.
ONLY_IN_MIGRATIONS = {"ix_members_name_trigrams", "ix_members_organisation_trigrams"}


def test_migrations_match_the_models(app):
    def include(thing, name, kind, reflected, compare_to):
        return not (kind == "index" and name in ONLY_IN_MIGRATIONS)

    with runtime_of(app).db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"include_object": include}), Base.metadata)
    assert diff == []


def test_every_row_state_is_a_word_the_database_knows(app):
    """Each status column takes only its StrEnum's words: the model's CHECK and the
    migration's are the same, and a stray word is refused where it is written."""
    from sqlalchemy import inspect, insert
    from sqlalchemy.exc import IntegrityError

    from gateway.store.states import BroadcastState, MessageState, ReminderState, VersionState

    engine = runtime_of(app).db.engine
    found = {
        table: [c["sqltext"] for c in inspect(engine).get_check_constraints(table)]
        for table in ("outbound_messages", "broadcasts", "reminders", "content_versions")
    }
    for table, states in (
        ("outbound_messages", MessageState),
        ("broadcasts", BroadcastState),
        ("reminders", ReminderState),
        ("content_versions", VersionState),
    ):
        (check,) = found[table]
        assert sorted(re.findall(r"'([a-z_]+)'", check)) == sorted(state.value for state in states), table
    assert MessageState.SENT == "sent" and f"{BroadcastState.DONE}" == "done"  # the words, as before
    with engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(
            insert(Base.metadata.tables["broadcasts"]).values(
                name="x", texts={}, audience={}, status="sentt", by_preference=False, urgent=False
            )
        )


def test_times_come_back_aware_utc_and_naive_ones_are_refused(db):
    row = add_session(db, starts="2030-01-11 14:00")
    db.expire_all()
    loaded = db.get(TrainingSession, row.id)
    assert loaded.starts_at == datetime(2030, 1, 11, 7, 0, tzinfo=timezone.utc)
    member = Member(phone="+8562055599999", consent_at=datetime(2026, 1, 1))
    db.add(member)
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()


def write(tmp_path, text):
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def vocabulary(app):
    return Vocabulary.build(runtime_of(app).services.book, runtime_of(app).services.catalog)


def test_member_import_reports_bad_rows_and_reimport_updates(db, tmp_path, vocabulary):
    path = write(
        tmp_path,
        "\ufeffphone,name,organisation,province,language,topics\n"
        "020 5551 2345,Noy,LWU,Luang Prabang,lo,nutrition;wash\n"
        "+856 20 5551 2346,Kham,,ຈຳປາສັກ,English,Digital safety\n"
        "12345,Bad Number,,,lo,\n"
        "020 5551 2347,Somphone,,Atlantis,lo,\n"
        "020 5551 2348,Vong,,,lo,knitting\n"
        "020-5551-2345,Noy again,,,lo,\n"
        "\n",
    )
    report = members.import_rows(db, read_rows(path, ("phone",)), vocabulary, "lo")
    assert (report.created, report.updated) == (2, 0)
    assert [(e.line, e.reason.split(" ")[0]) for e in report.rejected] == [
        (4, "phone"),
        (5, "unknown"),
        (6, "unknown"),
        (7, "same"),
    ]
    noy = members.by_phone(db, "+8562055512345")
    assert (noy.province, noy.topics, noy.registered) == ("luang_prabang", ["nutrition", "wash"], False)
    kham = members.by_phone(db, "+8562055512346")
    assert (kham.province, kham.language, kham.topics) == ("champasak", "en", ["digital_safety"])

    again = write(tmp_path, "phone,name,topics,consent\n020 5551 2345,Noy P,gender,yes\n")
    report = members.import_rows(db, read_rows(again, ("phone",)), vocabulary, "lo")
    assert (report.created, report.updated, report.rejected) == (0, 1, [])
    db.expire_all()
    noy = members.by_phone(db, "+8562055512345")
    assert (noy.name, noy.topics, noy.province, noy.registered) == ("Noy P", ["gender"], "luang_prabang", True)
    assert db.query(Member).count() == 2


def test_a_file_without_a_phone_column_is_rejected_whole(tmp_path):
    path = write(tmp_path, "name,province\nNoy,Bokeo\n")
    with pytest.raises(ImportRowError, match="missing column"):
        list(read_rows(path, ("phone",)))


def test_export_leaves_out_erased_members(db):
    add_member(db, "+8562055510001", name="Noy")
    gone = add_member(db, "+8562055510002", name="Gone")
    gone.erased_at, gone.phone, gone.name = datetime.now(timezone.utc), None, None
    db.flush()
    rows = list(members.export_rows(db))
    assert [r["name"] for r in rows] == ["Noy"]
    assert rows[0]["topics"] == "nutrition"


def test_next_session_matches_topic_language_and_skips_cancelled_and_past(db):
    member = add_member(db, "+8562055510001", topics=["nutrition", "wash"], language="lo")
    add_session(db, topic="wash", starts="2030-02-01 09:00")
    add_session(db, topic="nutrition", starts="2030-01-20 09:00", cancelled=True)
    add_session(db, topic="nutrition", language="en", starts="2030-01-10 09:00")
    add_session(db, topic="nutrition", starts="2020-01-10 09:00")
    expected = add_session(db, topic="nutrition", starts="2030-01-25 09:00")
    assert schedule.next_for(db, member).id == expected.id
    both = add_session(db, topic="nutrition", language="all", starts="2030-01-22 09:00")
    assert schedule.next_for(db, member).id == both.id  # held in both languages: hers too


def test_enrolment_is_once_and_respects_capacity(db):
    first = add_member(db, "+8562055510001")
    second = add_member(db, "+8562055510002")
    row = add_session(db, capacity=1)
    assert schedule.enrol(db, first, row.id, "ussd") == "enrolled"
    assert schedule.enrol(db, first, row.id, "ussd") == "already"
    assert schedule.enrol(db, second, row.id, "ussd") == "full"
    assert schedule.enrol(db, second, 99999, "ussd") == "missing"


def test_session_fields_explain_what_is_wrong(vocabulary):
    base = {
        "title_en": "Hangout",
        "topic": "nutrition",
        "language": "lo",
        "starts_at": "2030-01-11 14:00",
        "place": "Vientiane",
    }
    fields = schedule.session_fields(base, vocabulary, "Asia/Vientiane")
    assert fields["starts_at"].utcoffset() == timedelta(hours=7)
    for both in ("all", "Both", "ທັງສອງ"):
        assert schedule.session_fields({**base, "language": both}, vocabulary, "Asia/Vientiane")["language"] == "all"
    for change, reason in [
        ({"topic": "cooking"}, "unknown topic"),
        ({"starts_at": "Friday"}, "not like 2026-11-27 14:00"),
        ({"place": ""}, "say where or how to join"),
        ({"capacity": "-2"}, "capacity must be more than 0"),
        ({"kind": "party"}, "kind 'party'"),
        ({"title_en": ""}, "needs a title"),
        ({"language": "fr"}, "use lo, en or all"),
    ]:
        with pytest.raises(ValueError, match=reason):
            schedule.session_fields({**base, **change}, vocabulary, "Asia/Vientiane")


ANSWERS = {
    "name": "Noy",
    "organisation": "Women's Union",
    "province": "savannakhet",
    "language": "lo",
    "topics": ["nutrition", "digital_safety"],
    "consent": "yes",
}


def test_a_new_members_registration_is_saved_whole(db):
    saved = members.save_registration(db, "+8562055512345", {**ANSWERS, "remind_by": "voice"})
    db.commit()
    db.expunge_all()
    member = members.by_phone(db, "+8562055512345")
    assert (member.id, member.name, member.organisation, member.province, member.language) == (
        saved.id,
        "Noy",
        "Women's Union",
        "savannakhet",
        "lo",
    )
    assert (member.source, member.reminder_channel, member.registered) == ("ussd", "voice", True)
    assert member.topics == ["digital_safety", "nutrition"]
    assert saved.topics == ["nutrition", "digital_safety"]  # the object she was saved as knows them too


def test_a_known_number_registering_updates_her_row_and_replaces_her_topics(db):
    known = add_member(
        db,
        "+8562055512346",
        name="Old",
        language="en",
        topics=("nutrition", "climate"),
        province="vientiane",
        registered=False,
    )
    known.source, known.erased_at = "sms", datetime(2026, 1, 1, tzinfo=timezone.utc)
    db.commit()
    members.save_registration(db, "+8562055512346", {**ANSWERS, "name": "", "province": ""})
    db.commit()
    db.expunge_all()
    member = members.by_phone(db, "+8562055512346")
    assert member.id == known.id  # one row per number, never a second
    assert (member.name, member.province, member.language, member.source) == ("Old", "vientiane", "lo", "sms")
    assert member.topics == ["digital_safety", "nutrition"]
    assert member.registered and member.erased_at is None


MIGRATE = """
import sys, time
from gateway.store.database import Database
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # both processes begin at the same moment
Database(sys.argv[1]).upgrade()
"""


def _empty_database(database_url: str, tmp_path, n: int) -> tuple[str, callable]:
    """A new, empty database on the same server as the tests' (or a new SQLite file)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / f'empty-{n}.db'}", lambda: None
    name = f"outreach_migrate_{os.getpid()}_{n}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def test_two_hosts_migrating_an_empty_database_at_once_both_succeed(database_url, tmp_path):
    """Each web host runs `outreach migrate` as it starts; two starting together once
    failed 1 time in 4 (a duplicate key on alembic_version). Now they take turns."""
    for n in range(4):
        url, drop = _empty_database(database_url, tmp_path, n)
        try:
            start = time.time() + 1.5  # both have imported everything by then
            hosts = [
                subprocess.Popen([sys.executable, "-c", MIGRATE, url, str(start)], stderr=subprocess.PIPE, text=True)
                for _ in range(2)
            ]
            results = [(host.wait(timeout=120), host.stderr.read()) for host in hosts]
            assert [code for code, _ in results] == [0, 0], [error[-1500:] for _, error in results]
            database = Database(url)
            with database.engine.connect() as connection:
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0016"]
            database.dispose()
        finally:
            drop()
