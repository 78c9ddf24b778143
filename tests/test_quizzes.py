"""Quizzes as content: a quiz document becomes a quiz members reach from the Quiz
menu, by USSD, SMS and a call; its checks name the document's lines; dates and a
session decide what is listed; results are per quiz."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.content import publication
from gateway.runtime import runtime_of
from gateway.store import content as versions
from gateway.store.models import QuizAttempt, utcnow

from .helpers import add_member, add_session, walk

LAWS = textwrap.dedent("""\
    title: {lo: "ກົດໝາຍ ແລະ ສິດ", en: "Laws and rights"}
    questions:
      - ask: {lo: "ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?", en: "Who decides to share your data?"}
        options:
          - {lo: "ທ່ານເອງ", en: "You"}
          - {lo: "ທຸກຄົນ", en: "Anyone"}
        answer: 1
        why: {lo: "ຂໍ້ມູນຂອງທ່ານ ທ່ານເປັນຜູ້ຕັດສິນ.", en: "Your data is yours to decide."}
      - ask: {lo: "ຍິນຍອມແລ້ວ ຖອນຄືນໄດ້ບໍ?", en: "Can consent be withdrawn?"}
        options:
          - {lo: "ບໍ່ໄດ້", en: "No"}
          - {lo: "ໄດ້ ທຸກເວລາ", en: "Yes, any time"}
          - {lo: "ພຽງມື້ດຽວ", en: "Only that day"}
        answer: 2
        why: {lo: "ຖອນຄືນໄດ້ ທຸກເວລາ.", en: "You may withdraw it any time."}
      - ask: {lo: "ຂ່າວປອມ ຄວນເຮັດແນວໃດ?", en: "What to do with fake news?"}
        options:
          - {lo: "ແບ່ງປັນຕໍ່", en: "Share it"}
          - {lo: "ບໍ່ແບ່ງປັນ", en: "Do not share it"}
        answer: 2
        why: {lo: "ຂ່າວປອມແຜ່ໄວ.", en: "Fake news spreads fast."}
    """)


def _publish(app, extra: dict[str, str]):
    services = runtime_of(app).services
    with services.db.session() as db:
        docs = versions.documents(db, versions.published_number(db))
    return publication.publish_documents(
        publication.Desk.of(services, walk_hops=False), {**docs, **extra}, "import", "test"
    )


def _live(app):
    runtime_of(app).services.library.forget()  # this process checks at once (others within a second)


def test_a_written_quiz_is_listed_taken_by_ussd_and_sms_and_reported(app, phone_factory):
    from .handsets import Texter
    from gateway.polls import quiz_report

    outcome = _publish(app, {"quizzes/laws.yaml": LAWS})
    assert outcome.published, outcome.problems
    _live(app)
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        add_member(db, "+8562055510002", language="en")
    phone = phone_factory("+8562055510001")
    screens = walk(phone, "2")
    assert "ທົດສອບຄວາມຮູ້ເລື່ອງໃດ?" in screens[-1] and "ກົດໝາຍ ແລະ ສິດ" in screens[-1]
    laws = next(line.split(".")[0] for line in screens[-1].splitlines() if "ກົດໝາຍ" in line)
    assert "1/3 ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?" in phone.press(laws)
    assert "ຍິນຍອມແລ້ວ ຖອນຄືນໄດ້ບໍ?" in phone.press("1")
    wrong = phone.press("1")
    assert wrong.startswith("CON ບໍ່ຖືກ. ທີ່ຖືກ: ໄດ້ ທຸກເວລາ.")
    phone.press("1")  # next question
    score = phone.press("2")
    assert score.startswith("END") and "2" in score and "3" in score

    texter = Texter(app, "+8562055510002", app.config["GATEWAY"].at_webhook_token)
    listed = texter.send("QUIZ")[-1]
    assert "Which quiz?" in listed and "Laws and rights" in listed
    number = next(line.split(".")[0] for line in listed.splitlines() if "Laws" in line)
    assert "Who decides" in texter.send(number)[-1]

    with runtime_of(app).db.session() as db:
        attempts = list(db.scalars(select(QuizAttempt).where(QuizAttempt.quiz == "laws")))
        assert {(a.channel, a.score) for a in attempts if a.finished_at} == {("ussd", 2)}
        report = quiz_report.compute(
            db, runtime_of(app).services.book, runtime_of(app).services.catalog, "lo", quiz="laws"
        )
    assert report.total == 3 and report.attempts == 1 and report.scores[2] == 1
    assert report.questions[0].text == "ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?"
    assert [(q.overall.answered, q.overall.correct) for q in report.questions] == [(1, 1), (1, 0), (1, 1)]


def test_a_quiz_document_with_problems_is_refused_naming_its_lines(app):
    too_long = LAWS.replace("ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?", "ໃຜເປັນຜູ້ຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນສ່ວນຕົວ ຮູບພາບ ແລະ ເບີໂທລະສັບຂອງທ່ານ ໃຫ້ຜູ້ອື່ນ ຫຼື ບໍລິສັດ?")
    outcome = _publish(app, {"quizzes/laws.yaml": too_long})
    assert not outcome.published
    assert any(
        str(p).startswith("quizzes/laws.yaml:3: error: [lo] quiz_laws:q1: the first option is not on page 1")
        for p in outcome.problems
    ), outcome.problems
    for body, says in [
        (LAWS.replace("answer: 1", "answer: 5"), "quizzes/laws.yaml:3: error: question 1: the right answer"),
        (
            LAWS.replace('      - {lo: "ທຸກຄົນ", en: "Anyone"}\n', ""),
            "quizzes/laws.yaml:3: error: question 1 needs 2 to 4",
        ),
        (LAWS.replace('en: "Laws and rights"', 'xx: "?"'), "quizzes/laws.yaml:1: error: title has no words in en"),
        ("title: {lo: x, en: x}\nquestions: []\n", "a quiz has 1 to 10 questions"),
        (LAWS + "closes: not-a-date\n", "closes is a date"),
    ]:
        outcome = _publish(app, {"quizzes/laws.yaml": body})
        assert not outcome.published and any(says in str(p) for p in outcome.problems), (says, outcome.problems)
    with runtime_of(app).db.session() as db:
        assert len(versions.history(db)) == 1


def test_dates_and_a_session_decide_what_the_quiz_menu_lists(app, phone_factory):
    today = utcnow().date()
    from gateway.store.models import Enrolment

    with runtime_of(app).db.session() as db:
        member = add_member(db, "+8562055510001")
        session = add_session(db, starts=(utcnow() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"))
        db.add(Enrolment(member_id=member.id, session_id=session.id))
        session_id = session.id
    closed = LAWS + f"closes: {(today - timedelta(days=2)).isoformat()}\n"
    outcome = _publish(app, {"quizzes/laws.yaml": closed})
    assert outcome.published, outcome.problems
    _live(app)
    phone = phone_factory("+8562055510001")
    assert "1/7" in walk(phone, "2")[-1]  # only the shipped quiz is open: straight into it

    after = LAWS.replace('title: {lo: "ກົດໝາຍ ແລະ ສິດ"', f'session: {session_id}\ntitle: {{lo: "ກົດໝາຍ ແລະ ສິດ"')
    outcome = _publish(app, {"quizzes/laws.yaml": after})
    assert outcome.published, outcome.problems
    _live(app)
    listed = walk(phone, "2")[-1]
    assert "\n1. ກົດໝາຍ ແລະ ສິດ\n2. ຄວາມປອດໄພດິຈິຕອນ" in listed  # the quiz after her session first


@pytest.mark.parametrize("name", ["Laws", "../x", "laws-2026"])
def test_a_quiz_name_is_plain(app, name):
    outcome = _publish(app, {f"quizzes/{name}.yaml": LAWS})
    assert not outcome.published


def test_the_quiz_page_reports_each_quiz(people):
    from .test_dashboard import sign_in

    app = people
    assert _publish(app, {"quizzes/laws.yaml": LAWS}).published
    _live(app)
    client = app.test_client()
    sign_in(client, "kham@ngo.la")  # a viewer reads reports
    page = client.get("/quiz?name=laws").get_data(as_text=True)
    assert "Laws and rights" in page and "Who decides to share your data?" in page
    assert client.get("/quiz?name=nope").status_code == 404
    csv = client.get("/quiz.csv?name=laws")
    assert csv.status_code == 200 and "quiz-laws.csv" in csv.headers["Content-Disposition"]
    assert "Digital safety quiz" in client.get("/quiz").get_data(as_text=True)


def test_a_written_quiz_is_taken_on_a_call(make_app):
    """A call's menu leads to the same quiz list; an English caller hears the quiz's
    own words read aloud (nobody has recorded them yet), and her answers are stored."""
    from .test_voice import AT_VERBS, AtCall, heard, parse

    app = make_app(public_base_url="https://gw.example.org", at_webhook_token="tok")
    assert _publish(app, {"quizzes/laws.yaml": LAWS}).published
    _live(app)
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510002", language="en")
    call = AtCall(app.test_client(), "+8562055510002", "ATVId_quiz")
    call.post()
    spoken = " ".join(heard(parse(call.post(dtmfDigits="2")[1], AT_VERBS)))
    assert "Which quiz?" in spoken and "Laws and rights" in spoken
    spoken = " ".join(heard(parse(call.post(dtmfDigits="2")[1], AT_VERBS)))
    assert "Who decides to share your data?" in spoken
    call.post(dtmfDigits="1")
    with runtime_of(app).db.session() as db:
        attempt = db.scalar(select(QuizAttempt).where(QuizAttempt.quiz == "laws"))
        assert attempt is not None and attempt.channel == "voice"


def test_when_its_session_ends_its_members_are_invited_once(app):
    """The reconciler (every minute, on any host) invites the members who signed up
    for the session a quiz follows, once, in the session's language."""
    from gateway.messaging import reconciler
    from gateway.store.models import Enrolment, OutboundMessage

    from .fakes import drain

    with runtime_of(app).db.session() as db:
        signed_up = add_member(db, "+8562055510001")
        add_member(db, "+8562055510002")  # not signed up: nothing for her
        ended = add_session(db, starts=(utcnow() + timedelta(hours=7) - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"))
        later = add_session(db, starts="2030-01-11 14:00")
        db.add(Enrolment(member_id=signed_up.id, session_id=ended.id))
        ended_id, later_id = ended.id, later.id
    docs = {
        "quizzes/laws.yaml": f"session: {ended_id}\n" + LAWS,
        "quizzes/later.yaml": f"session: {later_id}\n" + LAWS.replace("ກົດໝາຍ ແລະ ສິດ", "ກົດໝາຍ 2"),
    }
    assert _publish(app, docs).published
    _live(app)
    services = runtime_of(app).services
    assert reconciler.reconcile(services)["invitations"] == 1
    assert reconciler.reconcile(services)["invitations"] == 0  # once
    drain(app)
    with runtime_of(app).db.session() as db:
        sent = [(row.member_id, row.body) for row in db.scalars(select(OutboundMessage))]
    assert len(sent) == 1 and sent[0][0] == signed_up.id
    assert sent[0][1] == "ຂອບໃຈທີ່ເຂົ້າຮ່ວມ ໂພຊະນາການແມ່ ແລະ ເດັກ! ລອງທົດສອບຄວາມຮູ້ «ກົດໝາຍ ແລະ ສິດ»: ສົ່ງຄຳວ່າ ທົດສອບ."


def test_publishing_a_written_quiz_walks_it_within_its_budget(app):
    """The hop walk at publish covers written quizzes: all right, and with a wrong answer."""
    from gateway.content.review import hop_problems

    services = runtime_of(app).services
    with services.db.session() as db:
        docs = {**versions.documents(db, versions.published_number(db)), "quizzes/laws.yaml": LAWS}
    assert hop_problems(docs) == []
    heavy = LAWS.replace(
        "questions:\n", "questions:\n" + "".join(LAWS.split("questions:\n", 1)[1] for _ in range(2)), 1
    )  # nine questions
    assert hop_problems({**docs, "quizzes/laws.yaml": heavy}) == []
