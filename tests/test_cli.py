"""The ``outreach`` command on the real database and Redis, through click."""

import csv
import io
from gateway.runtime import runtime_of


def test_members_import_then_export_round_trip(run, tmp_path):
    path = tmp_path / "members.csv"
    path.write_text(
        "phone,name,organisation,province,language,topics\n"
        "020 5551 2345,Noy,LWU,Bokeo,lo,nutrition\n"
        "nonsense,Bad,,,lo,\n",
        encoding="utf-8",
    )
    result = run("members", "import", str(path))
    assert result.exit_code == 1
    assert "members.csv:3: phone 'nonsense' is not a valid number" in result.output
    assert "1 created, 0 updated, 1 rejected" in result.output
    exported = run("members", "export")
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [(r["phone"], r["name"], r["province"], r["topics"]) for r in rows] == [
        ("+8562055512345", "Noy", "bokeo", "nutrition")
    ]
    again = run("members", "import", str(path))
    assert "0 created, 1 updated, 1 rejected" in again.output


def test_members_import_of_a_missing_or_wrong_file(run, tmp_path):
    assert run("members", "import", str(tmp_path / "nope.csv")).exit_code == 2
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name\nNoy\n")
    result = run("members", "import", str(wrong))
    assert result.exit_code == 1 and "missing column(s) phone; the header should be phone,name," in result.output
    assert "nothing was imported" in result.output
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"phone\n\xff\xfe\x00bad")
    result = run("members", "import", str(binary))
    assert result.exit_code == 1 and "not a CSV file we can read" in result.output


def test_sessions_add_list_and_import(run, tmp_path):
    added = run(
        "sessions",
        "add",
        "--title",
        "lo",
        "ໂພຊະນາການ",
        "--title",
        "en",
        "Nutrition hangout",
        "--topic",
        "nutrition",
        "--language",
        "lo",
        "--starts",
        "2030-01-11 14:00",
        "--link",
        "meet.jit.si/x",
        "--capacity",
        "25",
    )
    assert added.exit_code == 0 and "Fri 11 Jan 2030 14:00" in added.output
    assert "warning" not in added.output
    long = run(
        "sessions",
        "add",
        "--title",
        "lo",
        "ກອງປະຊຸມແລກປ່ຽນບົດຮຽນ ໂພຊະນາການແມ່ ແລະ ເດັກ",
        "--topic",
        "nutrition",
        "--language",
        "all",
        "--starts",
        "2030-01-12 14:00",
        "--place",
        "Pakse",
    )
    assert long.exit_code == 0
    assert "the lo title is 43 characters; the USSD screen has room for 22" in long.output
    assert "'ກອງປະຊຸມແລກປ່ຽນບົດຮຽນ…'" in long.output
    bad = run(
        "sessions",
        "add",
        "--topic",
        "nutrition",
        "--language",
        "lo",
        "--starts",
        "next friday",
        "--title",
        "en",
        "x",
        "--place",
        "here",
    )
    assert bad.exit_code == 1 and "not like 2026-11-27 14:00" in bad.output
    path = tmp_path / "sessions.csv"
    path.write_text(
        "title_lo,title_en,kind,topic,language,starts_at,duration_minutes,place,join_link,dial_in,capacity\n"
        ",Water CoP,community_of_practice,wash,en,2030-02-01 09:30,90,,https://meet.example/wash,,\n"
        ",Broken,training,wash,en,someday,60,Pakse,,,\n",
        encoding="utf-8",
    )
    imported = run("sessions", "import", str(path))
    assert imported.exit_code == 1
    assert "sessions.csv:3: time 'someday'" in imported.output
    listed = run("sessions", "list")
    assert listed.exit_code == 0
    assert "2030-01-11 14:00" in listed.output and "0/25" in listed.output
    assert "Water CoP" in listed.output


def test_simulate_prints_each_screen(run):
    result = run("simulate", "--phone", "+8562055510077", "--input", "0", "--input", "Noy")
    assert result.exit_code == 0
    assert "── screen 1 (CON" in result.output and "(English: 0)" in result.output
    assert "Welcome! Please type your name:" in result.output
    assert "Your organisation?" in result.output


def test_simulate_rejects_a_bad_phone(run):
    result = run("simulate", "--phone", "hello")
    assert result.exit_code == 1 and "not a phone number" in result.output


def test_migrate_is_idempotent(run):
    result = run("migrate")
    assert result.exit_code == 0 and "database is up to date" in result.output


def test_a_default_language_the_content_lacks_stops_the_start(run, monkeypatch):
    """A language is a catalog in the database, so DEFAULT_LANGUAGE is checked against
    the published content when `outreach up` migrates, before anything starts."""
    monkeypatch.setenv("DEFAULT_LANGUAGE", "fr")
    result = run("migrate")
    assert result.exit_code == 1
    assert "DEFAULT_LANGUAGE: the content has no 'fr' catalog; it has" in result.output


def test_simulate_over_sms_shows_the_replies(run):
    result = run(
        "simulate",
        "--channel",
        "sms",
        "--phone",
        "+8562055510078",
        "--input",
        "ຕໍ່ໄປ",
        "--input",
        "JOIN",
        "--input",
        "STOP",
        "--input",
        "HELP",
    )
    assert result.exit_code == 0, result.output
    assert "ກະລຸນາລົງທະບຽນກ່ອນ: ສົ່ງຄຳວ່າ ສະໝັກ." in result.output
    assert "(English: 0)" in result.output
    assert "ທ່ານຈະບໍ່ໄດ້ຮັບຂໍ້ຄວາມຈາກພວກເຮົາອີກ" in result.output
    assert result.output.rstrip().endswith("(no reply)")  # opted out: nothing more


def test_broadcast_commands(run, app):
    import re

    from .helpers import add_member

    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055550001", language="lo", province="bokeo")
        add_member(db, "+8562055550002", language="en", province="sekong")
    created = run(
        "broadcast",
        "create",
        "--audience",
        "province=bokeo,Sekong",
        "--text",
        "lo",
        "ສະບາຍດີ {name}",
        "--text",
        "en",
        "Hello {name}",
    )
    assert created.exit_code == 0, created.output
    first = re.search(r"broadcast (\d+) created", created.output)[1]  # ids as the organiser sees them
    assert "lo: 1 recipient(s), UCS-2" in created.output and "en: 1 recipient(s), GSM-7" in created.output
    assert "estimated cost 0.04 USD" in created.output
    assert run("broadcast", "send", first).exit_code == 1  # no --yes and no terminal to ask
    sent = run("broadcast", "send", first, "--yes")
    assert sent.exit_code == 0 and "2 message(s) added to the outbox" in sent.output
    status = run("broadcast", "status", first)
    assert f"broadcast {first}: sending" in status.output and "remaining  2" in status.output
    cancelled = run("broadcast", "cancel", first)
    assert "2 unsent message(s) stopped" in cancelled.output
    assert "cancelled" in run("broadcast", "list").output
    one_shot = run("broadcast", "send", "--audience", "all", "--text", "en", "Hi all", "--yes")
    assert one_shot.exit_code == 0 and re.search(r"broadcast \d+ created", one_shot.output)
    bad = run("broadcast", "create", "--audience", "planet=mars", "--text", "en", "x")
    assert bad.exit_code == 1 and "cannot read 'planet=mars'" in bad.output
    typo = run("broadcast", "create", "--text", "en", "Hi {nmae}")
    assert typo.exit_code == 1 and "uses {nmae}" in typo.output
    nowhere = run("broadcast", "create", "--text", "xx", "Hi")
    assert nowhere.exit_code == 1 and "no language 'xx'; use" in nowhere.output
    twice = run("broadcast", "create", "--text", "en", "Hi", "--text", "en", "Hello")
    assert twice.exit_code == 1 and "--text en is given twice" in twice.output
    assert run("broadcast", "status", "999999").exit_code == 1


def test_sessions_edit_and_cancel_move_and_cancel_reminders(run):
    import re

    added = run(
        "sessions",
        "add",
        "--title",
        "en",
        "Hangout",
        "--topic",
        "nutrition",
        "--language",
        "lo",
        "--starts",
        "2030-01-11 14:00",
        "--place",
        "Pakse",
    )
    assert "reminder 24h00 before: Thu 10 Jan 14:00 (scheduled)" in added.output
    session = re.search(r"session (\d+) added", added.output)[1]
    moved = run("sessions", "edit", session, "--starts", "2030-01-11 16:30")
    assert "reminder 1h00 before: Fri 11 Jan 15:30 (scheduled)" in moved.output
    # FEEDBACK_AFTER (2h) after the 60-minute session ends, and it moves with it.
    assert "feedback poll: Fri 11 Jan 19:30 (scheduled)" in moved.output
    bad = run("sessions", "edit", session, "--starts", "soon")
    assert bad.exit_code == 1 and "session not changed" in bad.output
    cancelled = run("sessions", "cancel", session)
    assert cancelled.output.count("(cancelled)") == 3  # two reminders and the feedback poll
    assert run("sessions", "cancel", "999999").exit_code == 1
