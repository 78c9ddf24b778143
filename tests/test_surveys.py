"""Surveys as content: a survey document becomes screens members reach from the
menu's Surveys entry and by texting SURVEY; answers are kept one per member; the
report breaks them down; a sensitive survey shows only totals of groups of five
or more, says so on its first screen, and loses its answers when it closes."""

from __future__ import annotations

import csv
import io
import textwrap
from datetime import timedelta

from sqlalchemy import func, select

from gateway.content import survey
from gateway.messaging import reconciler, survey_closing
from gateway.polls import survey_report
from gateway.runtime import runtime_of
from gateway.store import surveys
from gateway.store.models import AuditEvent, Member, SurveyClosure, SurveyResponse, utcnow

from .helpers import add_member, walk
from .test_quizzes import _live, _publish

FEEDBACK = textwrap.dedent("""\
    title: {lo: "ຄວາມເຫັນຕໍ່ການອົບຮົມ", en: "Training feedback"}
    questions:
      - kind: scale
        ask: {lo: "ມີປະໂຫຍດບໍ? 0 ບໍ່ມີ, 10 ຫຼາຍ", en: "How useful? 0 not, 10 very"}
      - kind: choice
        ask: {lo: "ຄັ້ງໜ້າ ຢາກຮຽນຫຍັງ?", en: "What next time?"}
        options:
          - {lo: "ກົດໝາຍ", en: "Laws"}
          - {lo: "ຂ່າວປອມ", en: "Fake news"}
          - {lo: "ຄວາມເປັນສ່ວນຕົວ", en: "Privacy"}
      - kind: text
        ask: {lo: "ຄຳແນະນຳສັ້ນໆ:", en: "One short suggestion:"}
    """)
SAFETY = textwrap.dedent("""\
    title: {lo: "ຄວາມປອດໄພໃນຊຸມຊົນ", en: "Safety where you live"}
    sensitive: true
    questions:
      - kind: choice
        ask: {lo: "ທ່ານເຄີຍຖືກຂົ່ມຂູ່ອອນລາຍບໍ?", en: "Have you been threatened online?"}
        options:
          - {lo: "ເຄີຍ", en: "Yes"}
          - {lo: "ບໍ່ເຄີຍ", en: "No"}
      - kind: text
        ask: {lo: "ຢາກໃຫ້ເຮົາຊ່ວຍຫຍັງ?", en: "How could we help?"}
    """)


def _members(app, count: int, province: str = "savannakhet", first: int = 10001, language: str = "lo"):
    with runtime_of(app).db.session() as db:
        return [add_member(db, f"+85620555{first + n}", province=province, language=language).id for n in range(count)]


def test_a_survey_is_taken_by_ussd_and_sms_once_per_member_and_reported(app, phone_factory):
    from .handsets import Texter

    outcome = _publish(app, {"surveys/feedback.yaml": FEEDBACK})
    assert outcome.published, outcome.problems
    _live(app)
    _members(app, 1)
    _members(app, 1, first=10002, language="en", province="attapeu")
    phone = phone_factory("+8562055510001")
    screens = walk(phone, "3")  # Surveys on the menu; the only open one: straight in
    assert screens[-1].startswith("CON ມີປະໂຫຍດບໍ? 0 ບໍ່ມີ, 10 ຫຼາຍ"), screens
    assert "ກະລຸນາພິມຕົວເລກ 0 ຫາ 10" in phone.press("11")  # out of range: asked again
    choice = phone.press("໘")  # Lao digits count
    assert "ຄັ້ງໜ້າ ຢາກຮຽນຫຍັງ?" in choice and "1. ກົດໝາຍ" in choice
    assert "ຄຳແນະນຳສັ້ນໆ:" in phone.press("2")
    done = phone.press("ສອນຊ້າລົງ")
    assert done.startswith("END ຂອບໃຈ! ເຮົາໄດ້ຮັບຄຳຕອບຂອງທ່ານແລ້ວ.")
    # Again, changing her mind: one response, the new one.
    walk(phone, "3", "5", "3", "ok")

    texter = Texter(app, "+8562055510002", app.config["GATEWAY"].at_webhook_token)
    assert "How useful?" in texter.send("SURVEY")[-1]
    texter.send("9")
    texter.send("1")
    assert "Thank you! We have your answers." in texter.send("More practice please")[-1]

    with runtime_of(app).db.session() as db:
        rows = surveys.responses(db, "feedback")
        assert sorted((r.channel, r.answers[0], r.answers[1], r.answers[2]) for r in rows) == [
            ("sms", 9, 1, "More practice please"),
            ("ussd", 5, 3, "ok"),
        ]
        assert {r.province for r in rows} == {"savannakhet", "attapeu"}
    entry = survey.listed(runtime_of(app).services.book)[0]
    report = survey_report.compute("feedback", entry, rows, sensitive=False)
    scale, choice, text = report["questions"]
    assert scale["overall"][5] == 1 and scale["overall"][9] == 1 and scale["median"] == 7
    assert choice["overall"] == [1, 0, 1] and choice["by_province"]["attapeu"] == [1, 0, 0]
    assert {t["text"] for t in text["texts"]} == {"ok", "More practice please"}


def test_a_conversation_keeps_no_answer_once_saved(app, phone_factory):
    """Answers wait in the conversation only until the survey saves them."""
    assert _publish(app, {"surveys/feedback.yaml": FEEDBACK}).published
    _live(app)
    _members(app, 1)
    phone = phone_factory("+8562055510001")
    walk(phone, "3", "4", "1")
    redis = runtime_of(app).services.redis
    held = [redis.get(key) for key in redis.scan_iter("ussd:s:*")]
    assert any(b'survey_feedback__q1":4' in value for value in held)
    phone.press("secret words")
    held = b"".join(redis.get(key) or b"" for key in redis.scan_iter("ussd:s:*"))
    assert b'survey_feedback__q1":4' not in held and b'survey_feedback__q1":null' in held


def test_a_sensitive_survey_says_so_first_hides_small_groups_and_forgets_at_close(app, phone_factory):
    outcome = _publish(app, {"surveys/safety.yaml": SAFETY})
    assert outcome.published, outcome.problems
    _live(app)
    # 6 in Savannakhet, 5 in Champasak, 3 in Attapeu, 1 in Sekong: the two small
    # groups are hidden, and as they hold 4 answers (the total less the others would
    # give them away), the next smallest, Champasak, is hidden too.
    ids = (
        _members(app, 6)
        + _members(app, 5, "champasak", 10401)
        + _members(app, 3, "attapeu", 10101)
        + _members(app, 1, "sekong", 10201)
    )
    first = phone_factory("+8562055510001")
    notice = walk(first, "3")[-1]
    assert notice.startswith("CON ແບບສອບຖາມລັບ: ເຮົາເບິ່ງແຕ່ຍອດລວມ") and "1. ເລີ່ມຕອບ" in notice
    assert "ທ່ານເຄີຍຖືກຂົ່ມຂູ່ອອນລາຍບໍ?" in first.press("1")
    first.press("1")
    assert first.press("ຢາກໄດ້ທະນາຍ").startswith("END ຂອບໃຈ!")
    numbers = [f"+85620555{n}" for n in [*range(10002, 10007), *range(10401, 10406), *range(10101, 10104), 10201]]
    for number in numbers:
        phone = phone_factory(number)
        walk(phone, "3", "1", "2", "ບໍ່ມີ")
    # One member stops half way, on the text question: her choice waits in Redis.
    with runtime_of(app).db.session() as db:
        late = add_member(db, "+8562055510301", province="savannakhet").id
    halfway = phone_factory("+8562055510301")
    walk(halfway, "3", "1", "1")
    redis = runtime_of(app).services.redis
    assert any(b'"survey_safety"' in (redis.get(k) or b"") for k in redis.scan_iter("ussd:*"))

    services = runtime_of(app).services
    entry = survey.listed(services.book)[0]
    with runtime_of(app).db.session() as db:
        rows = surveys.responses(db, "safety")
    assert len(rows) == 15
    report = survey_report.compute("safety", entry, rows, sensitive=True)
    question = report["questions"][0]
    assert question["overall"] == [1, 14] and question["by_province"] == {"savannakhet": [1, 5]}
    assert report["hidden"]["province"] == {"groups": 3, "answers": 9}
    for counts in [*question["by_province"].values(), *question["by_language"].values()]:
        assert sum(counts) >= survey_report.MIN_GROUP
    assert report["questions"][1]["texts"] == [["ບໍ່ມີ", 14], ["ຢາກໄດ້ທະນາຍ", 1]]  # no who, where or when
    # Fewer than five answers: nothing at all.
    assert survey_report.compute("safety", entry, rows[:4], sensitive=True)["questions"] == []

    closure = survey_closing.close(services, "safety", "kham@ngo.la")
    assert closure is not None and closure.responses == 15
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
        kept = db.get(SurveyClosure, "safety")
        assert kept.sensitive and kept.results["questions"][0]["overall"] == [1, 14]
        assert kept.results["questions"][1]["texts"] == [] and kept.results["questions"][1]["answered"] == 15
        assert db.scalar(select(AuditEvent).where(AuditEvent.action == "survey.close")) is not None
        assert db.get(Member, ids[0]) is not None  # members stay; only the link to their answers goes
    leftovers = [
        k for k in redis.scan_iter("*") if redis.type(k) == b"string" and b'"survey_safety"' in (redis.get(k) or b"")
    ]
    assert leftovers == []
    # Closed: not listed, and an answer that arrives now is refused.
    assert survey_closing.close(services, "safety", "kham@ngo.la") is None
    phone = phone_factory("+8562055510002")
    assert "ຕອນນີ້ບໍ່ມີແບບສຳຫຼວດ" in walk(phone, "3")[-1]  # the polls flow: none for her
    assert late


def test_the_reconciler_closes_a_survey_after_its_last_day(app):
    yesterday = (utcnow() + timedelta(hours=7) - timedelta(days=1)).date().isoformat()
    assert _publish(
        app, {"surveys/safety.yaml": SAFETY + f"closes: {yesterday}\n", "surveys/feedback.yaml": FEEDBACK}
    ).published
    _live(app)
    ids = _members(app, 1)
    with runtime_of(app).db.session() as db:
        member = db.get(Member, ids[0])
        surveys.save(db, "safety", member, [1, "x"], True, "ussd", utcnow())
    assert reconciler.reconcile(runtime_of(app).services)["surveys_closed"] == 1
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
        assert db.get(SurveyClosure, "safety").actor == "schedule"
        assert db.get(SurveyClosure, "feedback") is None  # no last day: open
    assert reconciler.reconcile(runtime_of(app).services)["surveys_closed"] == 0


def test_sensitive_answers_to_a_survey_taken_out_of_the_content_are_closed_too(app):
    assert _publish(app, {"surveys/safety.yaml": SAFETY}).published
    _live(app)
    ids = _members(app, 1)
    with runtime_of(app).db.session() as db:
        surveys.save(db, "safety", db.get(Member, ids[0]), [2, "y"], True, "sms", utcnow())
    services = runtime_of(app).services
    with services.db.session() as db:
        from gateway.store import content as versions

        docs = versions.documents(db, versions.published_number(db))
    from gateway.content import publication

    docs.pop("surveys/safety.yaml")
    assert publication.publish_documents(publication.Desk.of(services, walk_hops=False), docs, "import", "t").published
    _live(app)
    assert survey_closing.due(services) == ["safety"]
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
        assert db.get(SurveyClosure, "safety").results["responses"] == 1


def test_a_survey_document_with_problems_is_refused_naming_its_lines(app):
    for body, says in [
        (FEEDBACK.replace("kind: text", "kind: essay"), "surveys/feedback.yaml:11: error: question 3: kind is"),
        (
            FEEDBACK.replace('      - {lo: "ຂ່າວປອມ", en: "Fake news"}\n', "").replace(
                '      - {lo: "ຄວາມເປັນສ່ວນຕົວ", en: "Privacy"}\n', ""
            ),
            "question 2 needs 2 to 6 options",
        ),
        (SAFETY.replace("sensitive: true", "sensitive: maybe"), "sensitive is true or false"),
        ("title: {lo: x, en: x}\nquestions: []\n", "a survey has 1 to 5 questions"),
        (FEEDBACK.replace('en: "One short suggestion:"', 'xx: "?"'), "q3.ask has no words in en"),
    ]:
        outcome = _publish(app, {"surveys/feedback.yaml": body})
        assert not outcome.published and any(says in str(p) for p in outcome.problems), (says, outcome.problems)


def test_the_csv_of_a_sensitive_survey_is_totals_only():
    class Row:
        def __init__(self, n, province):
            self.answers, self.province, self.language = [1 + n % 2, "t"], province, "lo"

    rows = (
        [Row(n, "savannakhet") for n in range(7)]
        + [Row(n, "attapeu") for n in range(6)]
        + [Row(n, "sekong") for n in range(2)]
    )
    entry = {"kinds": ["choice", "text"], "options": [2, 0]}
    report = survey_report.compute("s", entry, rows, sensitive=True)
    headings = {k: k for k in ("question", "breakdown", "group", "answer", "count", "all", "province", "language")}
    labels = {"province": str, "language": str, "value": lambda n, v: f"option {v}"}
    out = io.StringIO()
    csv.writer(out).writerows(survey_report.table(report, labels, headings))
    written = list(csv.reader(io.StringIO(out.getvalue())))
    assert ["1", "province", "savannakhet", "option 1", "4"] in written
    assert not any("sekong" in line or "attapeu" in line for line in written)
    assert all(int(line[4]) >= 0 for line in written[1:] if line[4])
    groups = {(line[1], line[2]) for line in written[1:] if line[0] == "1"}
    assert groups == {("all", ""), ("province", "savannakhet"), ("language", "lo")}
