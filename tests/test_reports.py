"""Organisers' reports: poll results and the quiz report on screen, as CSV and as
charts (PNG and SVG, with Lao labels), session feedback, and bad input."""

from __future__ import annotations

import csv
import re
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from gateway.messaging import jobs, reminders
from gateway.polls import charts
from gateway.runtime import runtime_of
from gateway.store import schedule
from gateway.store.models import Poll, QuizAnswer, QuizAttempt, Reminder

from .fakes import drain
from .helpers import add_member, add_session, at_text, walk

POLL = [
    "poll",
    "create",
    "--code",
    "P7",
    "--question",
    "en",
    "Which topic next month?",
    "--question",
    "lo",
    "ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?",
    "--option",
    "en",
    "Feeding babies",
    "--option",
    "lo",
    "ການລ້ຽງລູກອ່ອນ",
    "--option",
    "en",
    "Clean water",
    "--option",
    "lo",
    "ນ້ຳສະອາດ",
]


def test_charts_are_real_images_with_their_labels(tmp_path):
    chart = charts.Chart(
        "ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ? Which topic next month?",
        "P7 · n = 3",
        [charts.Bar("1. ການລ້ຽງລູກອ່ອນ", 1, "1 (33.3%)"), charts.Bar("2. Clean water & <sanitation>", 2, "2 (66.7%)")],
    )
    png = charts.save(chart, tmp_path / "c.png")
    with Image.open(png) as image:
        assert image.size[0] == charts.WIDTH and image.size[1] > 200
        colours = image.convert("RGB").getcolors(maxcolors=100_000)
        assert any(colour == (43, 108, 176) for _, colour in colours)  # the bars were drawn
        assert len(colours) > 20  # and anti-aliased text
    svg = charts.save(chart, tmp_path / "c.svg").read_text(encoding="utf-8")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "1. ການລ້ຽງລູກອ່ອນ" in texts and "2. Clean water &amp; &lt;sanitation&gt;" in texts
    assert "font/ttf;base64," in svg  # the Lao font travels with the file


def test_poll_create_send_results_csv_and_chart_from_the_cli(run, app, tmp_path):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055540001", province="bokeo")
        add_member(db, "+8562055540002", language="en", province="saravane")
    created = run(*POLL)
    assert created.exit_code == 0 and "(P7) created" in created.output
    assert "estimated cost" in created.output
    sent = run("poll", "send", "P7", "--yes")
    assert sent.exit_code == 0, sent.output
    drain(app)  # the console provider "sends" the questions
    client = app.test_client()
    at_text(client, "໒", phone="+8562055540001")
    at_text(client, "feeding", phone="+8562055540002")
    results = run("poll", "results", "P7", "--lang", "en")
    assert results.exit_code == 0, results.output
    assert re.search(r"1\. Feeding babies\s+1\s+50\.0%", results.output)
    assert "reached 2, answered 2, response rate 100.0%" in results.output
    assert "bokeo" in results.output and "saravane" in results.output
    table = tmp_path / "p7.csv"
    assert run("poll", "results", "P7", "--csv", str(table)).exit_code == 0
    rows = list(csv.reader(table.open(encoding="utf-8")))
    assert ["all", "all", "2", "ນ້ຳສະອາດ", "1", "50.0"] in rows
    chart = tmp_path / "p7.png"
    assert run("poll", "results", "P7", "--chart", str(chart)).exit_code == 0
    assert chart.stat().st_size > 5000
    assert "P7" in run("poll", "list").output


def test_bad_poll_input_is_refused_and_nothing_is_written(run, app, tmp_path):
    cases = [
        (["--code", "hello"], "should be 1-3 letters then 1-4 digits"),
        (["--option", "lo", "ໜຶ່ງ"], "give each option in every language"),
        (["--closes", "2020-01-01 08:00"], "close after it opens"),
        (["--opens", "tomorrow"], "is not like 2026-11-27 14:00"),
        (["--audience", "province=atlantis"], "atlantis"),
    ]
    for extra, message in cases:
        result = run(*POLL, *extra)
        assert result.exit_code == 1 and message in result.output, (extra, result.output)
    one_option = run("poll", "create", "--question", "en", "Yes?", "--option", "en", "Yes")
    assert one_option.exit_code == 1 and "2 to 9 options" in one_option.output
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(Poll.id)) is None
    created = run(*POLL)
    assert created.exit_code == 0 and "warning" not in created.output
    assert "code P7 is taken" in run(*POLL).output
    long = run(
        "poll",
        "create",
        "--code",
        "P8",
        "--question",
        "lo",
        "ເດືອນໜ້າ ທ່ານຢາກໃຫ້ກຸ່ມຂອງພວກເຮົາລົມກັນເລື່ອງຫຍັງ ໃນກອງປະຊຸມແລກປ່ຽນບົດຮຽນ?",
        "--option",
        "lo",
        "ການລ້ຽງລູກອ່ອນ",
        "--option",
        "lo",
        "ນ້ຳສະອາດ",
        "--option",
        "lo",
        "ບົດບາດຍິງ-ຊາຍ",
    )
    assert long.exit_code == 0
    assert "warning: in lo, the question and its answers do not fit one USSD screen" in long.output
    assert run("poll", "results", "P99").exit_code == 1
    bad_chart = run("poll", "results", "P7", "--chart", str(tmp_path / "chart.pdf"))
    assert bad_chart.exit_code == 1 and ".png or .svg" in bad_chart.output
    assert not (tmp_path / "chart.pdf").exists()
    assert run("poll", "results", "P7", "--lang", "fr").exit_code == 1
    assert run("poll", "send", "P7").exit_code == 1  # no terminal to confirm on, and no --yes


def test_quiz_report_by_question_province_and_language(run, app, phone_factory, tmp_path):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055550001", province="bokeo", language="lo")
        add_member(db, "+8562055550002", province="saravane", language="en")
    # The correct answers are 3,1,2,... (flows/safety_quiz.yaml); one member gets all right,
    # the other gets the first question wrong and the rest right.
    answers = _correct_answers(app)
    wrong = str(int(answers[0]) % 3 + 1)
    for phone, first in (("+8562055550001", answers[0]), ("+8562055550002", wrong)):
        # a wrong answer is followed by one screen that explains it ("1. Next question")
        keys = ["2", first] + (["1"] if first == wrong else []) + list(answers[1:])
        walk(phone_factory(phone), *keys)
    report = run("quiz", "report", "--lang", "en")
    assert report.exit_code == 0, report.output
    assert "2 finished attempt(s)" in report.output
    assert re.search(r"1\.\s+50\.0% of\s+2\s+passwords", report.output)
    assert re.search(r"2\.\s+100\.0% of\s+2", report.output)
    assert re.search(r"bokeo\s+100\.0%", report.output) and re.search(r"saravane\s+0\.0%", report.output)
    total = len(answers)
    assert re.search(rf"{total}/{total}\s+1\s+50\.0%", report.output)
    table = tmp_path / "quiz.csv"
    assert run("quiz", "report", "--csv", str(table)).exit_code == 0
    rows = list(csv.reader(table.open(encoding="utf-8")))
    assert [r[-1] for r in rows if r[:4] == ["question", "language", "en", "passwords"]] == ["0.0"]
    svg = tmp_path / "quiz.svg"
    assert run("quiz", "report", "--chart", str(svg)).exit_code == 0
    text = svg.read_text(encoding="utf-8")
    assert "ລະຫັດຜ່ານແບບໃດປອດໄພທີ່ສຸດ?" in text
    assert (tmp_path / "quiz-scores.svg").exists()
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(QuizAttempt.id)) is not None and db.scalar(select(QuizAnswer.id)) is not None


def _correct_answers(app) -> list[str]:
    book = runtime_of(app).services.book
    return [str(node.answer) for node in book.quiz_questions("digital_safety")]


def test_session_feedback_poll_goes_to_the_enrolled_and_shows_on_sessions_show(run, make_app):
    app = make_app(quiet_hours="off")
    with runtime_of(app).db.session() as db:
        session = add_session(db, starts="2020-01-11 14:00")
        session.feedback_after_minutes = 120
        for n in range(3):
            member = add_member(db, f"+85620555600{n:02d}", language="en")
            if n < 2:
                schedule.enrol(db, member, session.id, "ussd")
        session_id = session.id
    with runtime_of(app).db.session() as db:
        row = db.get(type(session), session_id)
        reminders.sync(db, row, [], now=row.starts_at - timedelta(days=1))
        feedback = db.scalar(select(Reminder).where(Reminder.kind == "feedback"))
        assert feedback.due_at == row.starts_at + timedelta(minutes=180)
        feedback_id = feedback.id
    assert jobs.fire_reminder(feedback_id).startswith("broadcast")
    drain(app)
    with runtime_of(app).db.session() as db:
        poll = db.scalar(select(Poll))
        assert (poll.kind, poll.code, len(poll.options)) == ("feedback", f"F{session_id}", 5)
        assert poll.questions["en"] == "Feeding mothers and babies: how useful was this session for you?"
        assert poll.closes_at - poll.opens_at == timedelta(days=3)
    client = app.test_client()
    at_text(client, "5", phone="+8562055560000")
    at_text(client, "4", phone="+8562055560001")
    at_text(client, "1", phone="+8562055560002")  # not enrolled: was not asked, not counted
    shown = run("sessions", "show", str(session_id))
    assert shown.exit_code == 0, shown.output
    assert f"feedback (poll F{session_id}): 2 answer(s) of 2 asked (100%), average 4.5 of 5" in shown.output
