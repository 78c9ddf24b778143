"""The dashboard's wording editor: who may do what, draft and preview on the test
number, publish with every check (refusals in her language), conflicts between two
editors, history and putting a text back, and hostile input."""

from __future__ import annotations

import re

from sqlalchemy import select

from .handsets import Phone
from gateway.phone import fictional
from gateway.runtime import runtime_of
from gateway.store import content as versions
from gateway.store import users as accounts
from gateway.store.models import AuditEvent, User

from .helpers import PASSWORD, add_member, switch_language, wait_until
from .helpers import form_token as token
from .test_dashboard import sign_in

KEY = "quiz.passwords.ask"
QUESTION = "ລະຫັດຜ່ານແບບໃດປອດໄພທີ່ສຸດ?"
CLEARER = "ລະຫັດແບບໃດປອດໄພກວ່າໝູ່?"
ENGLISH = "Which password is strongest?"


def _editor(app, email="lah@ngo.la", role="editor"):
    with runtime_of(app).db.session() as db:
        accounts.add(db, email, PASSWORD, role, language="en")


def _client(app, email):
    client = app.test_client()
    sign_in(client, email)
    return client


def _form(client, key=KEY):
    page = client.get(f"/content/text/{key}")
    assert page.status_code == 200
    return page


def _save(client, page, lo, en=ENGLISH, key=KEY, **extra):
    html = page.get_data(as_text=True)
    base_lo = _hidden(html, "base_lo")
    base_en = _hidden(html, "base_en")
    return client.post(
        f"/content/text/{key}",
        data={"csrf": token(page.data), "text_lo": lo, "text_en": en, "base_lo": base_lo, "base_en": base_en, **extra},
    )


def _hidden(html: str, name: str) -> str:
    import html as escaping
    import re

    return escaping.unescape(re.search(rf'name="{name}" value="([^"]*)"', html)[1])


def _post(client, path, page_path="/content"):
    page = client.get(page_path)
    return client.post(path, data={"csrf": token(page.data)})


def _quiz_screen(app, number):
    phone = Phone(app.test_client(), number, "*384#", app.config["GATEWAY"].at_webhook_token)
    phone.dial()
    return phone.press("2")


def _versions(app):
    with runtime_of(app).db.session() as db:
        return [(row.id,) for row in versions.history(db)]


def _until(check, seconds=5.0):
    try:
        return wait_until(check, seconds, every_s=0.2)
    except AssertionError:
        return check()  # the caller's assertion says what was missing


def test_without_a_session_nothing_opens_or_changes(app, people):
    client = app.test_client()
    for path in ("/content", f"/content/text/{KEY}", "/content/versions", "/content/versions/1"):
        assert client.get(path).status_code == 302
    for path in (
        f"/content/text/{KEY}",
        "/content/publish",
        "/content/preview",
        "/content/discard",
        "/content/measure",
        "/content/versions/1/revert",
        f"/content/text/{KEY}/restore/1",
    ):
        answer = client.post(path, data={"text_lo": "x"})
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    with runtime_of(app).db.session() as db:
        assert versions.edits(db) == [] and len(versions.history(db)) == 1


def test_a_viewer_reads_but_changes_nothing_and_an_organiser_cannot_publish(app, people):
    viewer = _client(app, "kham@ngo.la")
    assert QUESTION in viewer.get("/content").get_data(as_text=True)
    page = _form(viewer)
    assert _save(viewer, page, CLEARER).status_code == 403
    for path in ("/content/publish", "/content/preview", "/content/discard", "/content/versions/1/revert"):
        assert _post(viewer, path).status_code == 403
    assert (
        viewer.post(
            "/content/measure", data={"csrf": token(page.data), "key": KEY, "lang": "lo", "text": "x"}
        ).status_code
        == 403
    )

    organiser = _client(app, "noy@ngo.la")
    assert _save(organiser, _form(organiser), CLEARER).status_code == 302
    assert _post(organiser, "/content/publish").status_code == 403
    assert _post(organiser, "/content/versions/1/revert").status_code == 403
    with runtime_of(app).db.session() as db:
        assert [(e.language, e.key, e.text) for e in versions.edits(db)] == [("lo", KEY, CLEARER)]
        assert len(versions.history(db)) == 1


def test_draft_preview_on_her_test_number_then_publish_live_and_put_back(app, people):
    _editor(app)
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        noy = db.scalar(select(User).where(User.email == "noy@ngo.la"))
        add_member(db, fictional(noy.id))
    organiser = _client(app, "noy@ngo.la")
    assert _save(organiser, _form(organiser), CLEARER).status_code == 302
    assert CLEARER in _form(organiser).get_data(as_text=True)  # her draft, in the box

    # The draft runs on her test number only.
    assert _post(organiser, "/content/preview").status_code == 302
    assert "version" in organiser.get("/simulator").get_data(as_text=True)
    assert CLEARER in _quiz_screen(app, fictional(noy.id))
    assert QUESTION in _quiz_screen(app, "+8562055510001")

    editor = _client(app, "lah@ngo.la")
    answer = _post(editor, "/content/publish")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert _until(lambda: CLEARER in _quiz_screen(app, "+8562055510001"))
    with runtime_of(app).db.session() as db:
        assert versions.edits(db) == []
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        published = versions.published_number(db)
    assert "content.edit" in actions and "content.publish" in actions

    # History names who, when and what; putting the old text back is a draft edit.
    page = _form(editor).get_data(as_text=True)
    assert f"Version {published}" in page and "lah@ngo.la" in page and "<ins>" in page
    first = min(number for (number,) in _versions(app))
    assert _post(editor, f"/content/text/{KEY}/restore/{first}", f"/content/text/{KEY}").status_code == 302
    assert _post(editor, "/content/publish").status_code == 302
    assert _until(lambda: QUESTION in _quiz_screen(app, "+8562055510001"))


def test_a_second_editor_gets_a_conflict_showing_both_texts(app, people):
    _editor(app)
    first, second = _client(app, "noy@ngo.la"), _client(app, "lah@ngo.la")
    first_page, second_page = _form(first), _form(second)  # both open the same text
    assert _save(first, first_page, CLEARER).status_code == 302
    clash = _save(second, second_page, "ລະຫັດແບບໃດ ປອດໄພ?")
    assert clash.status_code == 409
    html = clash.get_data(as_text=True)
    assert CLEARER in html and "ລະຫັດແບບໃດ ປອດໄພ?" in html and "noy@ngo.la" in html
    with runtime_of(app).db.session() as db:
        assert versions.edit(db, "lo", KEY).text == CLEARER  # nothing overwritten
    # She keeps hers, knowingly.
    keep = second.post(
        f"/content/text/{KEY}",
        data={
            "csrf": token(clash.data),
            "overwrite": "yes",
            "text_lo": "ລະຫັດແບບໃດ ປອດໄພ?",
            "text_en": ENGLISH,
            "base_lo": CLEARER,
            "base_en": ENGLISH,
        },
    )
    assert keep.status_code == 302
    with runtime_of(app).db.session() as db:
        assert versions.edit(db, "lo", KEY).text == "ລະຫັດແບບໃດ ປອດໄພ?"


def test_a_publish_that_fails_a_check_is_refused_in_her_language_and_the_draft_is_kept(app, people):
    admin = _client(app, "admin@ngo.la")
    switch_language(admin, "lo", "/content")
    long = "ລະຫັດຜ່ານແບບໃດທີ່ປອດໄພທີ່ສຸດສຳລັບບັນຊີເຟສບຸກ ອີເມວ ແລະ ທະນາຄານອອນລາຍຂອງທ່ານ ແລະ ຄອບຄົວ?"
    assert _save(admin, _form(admin), long).status_code == 302
    answer = _post(admin, "/content/publish")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "ບໍ່ໄດ້ເຜີຍແຜ່" in html and "ຕົວເລືອກທຳອິດບໍ່ຢູ່ໜ້າ 1" in html
    assert f'href="/content/text/{KEY}"' in html
    with runtime_of(app).db.session() as db:
        assert versions.edit(db, "lo", KEY).text == long
        assert len(versions.history(db)) == 1  # only the shipped version, published
    counter = admin.post(
        "/content/measure", data={"csrf": token(_form(admin).data), "key": KEY, "lang": "lo", "text": long}
    ).get_json()
    assert not counter["fits"] and any(line["bad"] for line in counter["lines"])
    assert counter["lines"][0]["text"].endswith("ຕົວອັກສອນ")


def test_hostile_text_is_refused_or_escaped(app, people):
    admin = _client(app, "admin@ngo.la")
    for bad, says in [
        ("{name} ລະຫັດ", "a blank the English does not have"),
        ("ລະຫັດ {", "does not match"),
        ("ກ" * 1001, "At most 1000 characters"),
        ("", "cannot be empty"),
    ]:
        answer = _save(admin, _form(admin), bad)
        assert answer.status_code == 400 and says in answer.get_data(as_text=True), bad[:20]
    script = "<script>alert(1)</script> ລະຫັດໃດ?"
    assert _save(admin, _form(admin), script).status_code == 302
    for path in ("/content", f"/content/text/{KEY}"):
        html = admin.get(path).get_data(as_text=True)
        # (Latin in a Lao text is marked as English, so a span may sit inside the escaped tag.)
        assert "<script>alert(1)" not in html and re.search(r'&lt;(<span lang="en">)?script', html)
    assert admin.get("/content/text/no.such.key").status_code == 404
    invented = admin.post(
        "/content/text/" + "x" * 300,
        data={"csrf": token(_form(admin).data), "text_lo": "a", "text_en": "a", "base_lo": "", "base_en": ""},
    )
    assert invented.status_code == 404  # no key is invented (and none longer than the column)
    assert admin.get("/content/versions/99999").status_code == 404
    assert _post(admin, "/content/versions/99999/revert").status_code == 400


def test_the_simulators_call_speaks_the_draft_on_her_test_number(app, people):
    with runtime_of(app).db.session() as db:
        noy = db.scalar(select(User).where(User.email == "noy@ngo.la"))
        add_member(db, fictional(noy.id))
    organiser = _client(app, "noy@ngo.la")
    assert _save(organiser, _form(organiser), CLEARER).status_code == 302
    assert _post(organiser, "/content/preview").status_code == 302
    page = organiser.get("/simulator")
    assert "data-call-url" in page.get_data(as_text=True)
    csrf = token(page.data)
    rang = organiser.post("/simulator/call", data={"csrf": csrf, "call": ""}).get_json()
    assert rang["lines"] and not rang["ended"]
    quiz = organiser.post("/simulator/call", data={"csrf": csrf, "call": rang["call"], "keys": "2"}).get_json()
    assert any(CLEARER in line["text"] for line in quiz["lines"]), quiz["lines"]
    viewer = _client(app, "kham@ngo.la")
    assert viewer.post("/simulator/call", data={"csrf": token(viewer.get("/content").data)}).status_code == 403


def test_the_content_page_says_how_much_of_each_language_is_written(app, people):
    viewer = _client(app, "kham@ngo.la")
    html = viewer.get("/content").get_data(as_text=True)
    counts = re.findall(r"(ພາສາລາວ|English) (\d+)/(\d+)", html)  # the Languages line
    assert [name for name, _, _ in counts] == ["ພາສາລາວ", "English"]
    assert all(covered == total and int(total) > 100 for _, covered, total in counts)
    assert html.count(f"{counts[0][1]} of {counts[0][2]} texts") == 2  # and the table, a row each


def test_the_shared_reminder_text_may_not_use_a_members_name(app, people):
    """A reminder goes to every member following the session's topic, named or not:
    {name} in it would leave a blank, which the outbox refuses only once it is due.
    The editor refuses it at once (English has no {name}); an import that writes it
    in every language is refused at publish, and nothing is published."""
    from gateway.content import publication, wording

    admin = _client(app, "admin@ngo.la")
    page = _form(admin, "reminder.text")
    english = _hidden(page.get_data(as_text=True), "base_en")
    refused = _save(admin, page, "ສະບາຍດີ {name}! {session.title}", english, key="reminder.text")
    assert refused.status_code == 400 and "{name}" in refused.get_data(as_text=True)
    services = runtime_of(app).services
    docs = wording.apply(
        services.library.current().documents,
        [
            ("lo", "reminder.text", "ສະບາຍດີ {name}! {session.title} ຈະເລີ່ມ {session.starts_at}."),
            ("en", "reminder.text", "Hello {name}! {session.title} starts {session.starts_at}."),
        ],
    )
    outcome = publication.publish_documents(publication.Desk.of(services, walk_hops=False), docs, "import", "test")
    assert outcome.number is None
    said = [str(problem) for problem in outcome.problems]
    assert any("prompts/lo.yaml" in text and "reminder.text' uses {name}" in text for text in said), said
    with runtime_of(app).db.session() as db:
        assert len(versions.history(db)) == 1
