"""The quiz builder on the dashboard: roles, checks said on the form, the draft,
publishing, conflicts, removal and hostile input."""

from __future__ import annotations

from gateway.runtime import runtime_of
from gateway.store import content as versions
from gateway.store import users as accounts

from .helpers import PASSWORD, add_member, switch_language, walk
from .helpers import form_token as token
from .test_dashboard import sign_in

QUESTIONS = [
    (
        "ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?",
        "Who decides to share your data?",
        [("ທ່ານເອງ", "You"), ("ທຸກຄົນ", "Anyone")],
        1,
        ("ຂໍ້ມູນຂອງທ່ານ ທ່ານເປັນຜູ້ຕັດສິນ.", "Your data is yours to decide."),
    ),
    (
        "ຍິນຍອມແລ້ວ ຖອນຄືນໄດ້ບໍ?",
        "Can consent be withdrawn?",
        [("ບໍ່ໄດ້", "No"), ("ໄດ້ ທຸກເວລາ", "Yes, any time")],
        2,
        ("ຖອນຄືນໄດ້ ທຸກເວລາ.", "You may withdraw it any time."),
    ),
    (
        "ຂ່າວປອມ ຄວນເຮັດແນວໃດ?",
        "What to do with fake news?",
        [("ແບ່ງປັນຕໍ່", "Share it"), ("ບໍ່ແບ່ງປັນ", "Do not share it")],
        2,
        ("ຂ່າວປອມແຜ່ໄວ.", "Fake news spreads fast."),
    ),
]


def quiz_form(page, name="laws", title=("ກົດໝາຍ ແລະ ສິດ", "Laws and rights"), questions=QUESTIONS, **extra):
    form = {"csrf": token(page.data), "new": "1", "base": "", "name": name, "title_lo": title[0], "title_en": title[1]}
    for n, (ask_lo, ask_en, options, answer, (why_lo, why_en)) in enumerate(questions, start=1):
        form.update(
            {
                f"q{n}_ask_lo": ask_lo,
                f"q{n}_ask_en": ask_en,
                f"q{n}_answer": str(answer),
                f"q{n}_why_lo": why_lo,
                f"q{n}_why_en": why_en,
            }
        )
        for m, (lo, en) in enumerate(options, start=1):
            form.update({f"q{n}_a{m}_lo": lo, f"q{n}_a{m}_en": en})
    return {**form, **extra}


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _drafted(app):
    with runtime_of(app).db.session() as db:
        return {row.key: row.text for row in versions.edits(db) if not row.language}


def test_roles_decide_who_may_write_a_quiz(app, people):
    outsider = app.test_client()
    assert outsider.get("/content/quizzes").status_code == 302
    assert outsider.post("/content/quizzes", data={"name": "x"}).status_code == 302
    viewer = _client(app, "kham@ngo.la")
    assert viewer.get("/content/quizzes").status_code == 200
    assert viewer.get("/content/quizzes/new").status_code == 403
    page = viewer.get("/content/quizzes")
    assert viewer.post("/content/quizzes", data=quiz_form(page)).status_code == 403
    assert viewer.post("/content/quizzes/laws/remove", data={"csrf": token(page.data)}).status_code == 403
    assert _drafted(app) == {}


def test_an_organiser_writes_a_quiz_an_editor_publishes_it_members_take_it(app, people, phone_factory):
    with runtime_of(app).db.session() as db:
        accounts.add(db, "lah@ngo.la", PASSWORD, "editor", language="en")
        add_member(db, "+8562055510001")
    organiser = _client(app, "noy@ngo.la")
    page = organiser.get("/content/quizzes/new")
    saved = organiser.post("/content/quizzes", data=quiz_form(page))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert "ກົດໝາຍ ແລະ ສິດ" in _drafted(app)["quizzes/laws.yaml"]
    assert "Laws and rights" in organiser.get("/content/quizzes").get_data(as_text=True)
    # Members do not see it until it is published.
    assert "1/7" in walk(phone_factory("+8562055510001"), "2")[-1]

    editor = _client(app, "lah@ngo.la")
    page = editor.get("/content")
    published = editor.post("/content/publish", data={"csrf": token(page.data)})
    assert published.status_code == 302, published.get_data(as_text=True)
    runtime_of(app).services.library.forget()
    listed = walk(phone_factory("+8562055510001"), "2")[-1]
    assert "ກົດໝາຍ ແລະ ສິດ" in listed
    assert _drafted(app) == {}
    edit = editor.get("/content/quizzes/laws").get_data(as_text=True)
    assert "ຍິນຍອມແລ້ວ ຖອນຄືນໄດ້ບໍ?" in edit and "readonly" in edit


def test_a_quiz_that_does_not_fit_is_refused_on_the_form_in_her_language(app, people):
    organiser = _client(app, "noy@ngo.la")
    switch_language(organiser, "lo", "/content/quizzes/new")
    long = ("ໃຜເປັນຜູ້ຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນສ່ວນຕົວ ຮູບພາບ ແລະ ເບີໂທລະສັບຂອງທ່ານ ໃຫ້ຜູ້ອື່ນ ຫຼື ບໍລິສັດ?",) + QUESTIONS[0][1:]
    page = organiser.get("/content/quizzes/new")
    answer = organiser.post("/content/quizzes", data=quiz_form(page, questions=[long]))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "ຕົວເລືອກທຳອິດບໍ່ຢູ່ໜ້າ 1" in html
    assert long[0] in html  # her text is kept on the form
    for bad, says in [
        ({"name": "Laws!"}, "ຊື່ສັ້ນ"),
        ({"opens": "next week"}, "2026-12-31"),
        ({"q1_answer": "4"}, "ຄຳຕອບທີ່ຖືກ"),
        ({"q1_a1_lo": "", "q1_a1_en": ""}, "ວ່າງ"),
        ({"title_en": ""}, "en"),
    ]:
        answer = organiser.post("/content/quizzes", data=quiz_form(page, **bad))
        assert answer.status_code == 400 and says in answer.get_data(as_text=True), bad
    assert _drafted(app) == {}


def test_a_second_writer_gets_a_conflict_and_removal_is_a_draft(app, people):
    with runtime_of(app).db.session() as db:
        accounts.add(db, "lah@ngo.la", PASSWORD, "editor", language="en")
    first, second = _client(app, "noy@ngo.la"), _client(app, "lah@ngo.la")
    assert first.post("/content/quizzes", data=quiz_form(first.get("/content/quizzes/new"))).status_code == 302
    a, b = first.get("/content/quizzes/laws"), second.get("/content/quizzes/laws")
    base = _drafted(app)["quizzes/laws.yaml"]
    changed = quiz_form(a, title=("ກົດໝາຍ", "Laws"), new="0", base=base)
    assert first.post("/content/quizzes", data=changed).status_code == 302
    clash = second.post("/content/quizzes", data=quiz_form(b, title=("ສິດ", "Rights"), new="0", base=base))
    assert clash.status_code == 409 and "noy@ngo.la" in clash.get_data(as_text=True)
    assert "ກົດໝາຍ" in _drafted(app)["quizzes/laws.yaml"] and "ສິດ\n" not in _drafted(app)["quizzes/laws.yaml"]

    page = second.get("/content")
    assert second.post("/content/publish", data={"csrf": token(page.data)}).status_code == 302
    assert second.post("/content/quizzes/laws/remove", data={"csrf": token(page.data)}).status_code == 302
    assert _drafted(app) == {"quizzes/laws.yaml": ""}
    assert second.post("/content/publish", data={"csrf": token(page.data)}).status_code == 302
    runtime_of(app).services.library.forget()  # this process asks at once (others within a second)
    assert "quizzes/laws.yaml" not in runtime_of(app).services.library.current().documents


def test_hostile_quiz_text_is_escaped(app, people):
    organiser = _client(app, "noy@ngo.la")
    page = organiser.get("/content/quizzes/new")
    form = quiz_form(page, title=("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"))
    assert organiser.post("/content/quizzes", data=form).status_code == 302
    for path in ("/content/quizzes", "/content/quizzes/laws", "/content"):
        html = organiser.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html
