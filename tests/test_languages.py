"""Languages are data: a catalog with its name, digits and fallback is a language;
it joins the members' language menu once it has every text the flows show, and
until then its members read its fallback where it has no text."""

from __future__ import annotations

import yaml

from gateway.content import languages
from gateway.content.edition import Edition
from gateway.runtime import runtime_of
from gateway.store import content as versions

from .helpers import add_member, walk
from .test_quizzes import _live, _publish

THAI = {"name": "ภาษาไทย", "digits": "๐๑๒๓๔๕๖๗๘๙", "fallback": "en"}


def _documents(app) -> dict[str, str]:
    with runtime_of(app).db.session() as db:
        return versions.documents(db, versions.published_number(db))


def _thai(app, texts: dict | None = None, **meta) -> str:
    """A Thai catalog: its description and ``texts`` (nested, as in a file)."""
    return yaml.safe_dump({"catalog": {**THAI, **meta}, **(texts or {})}, allow_unicode=True)


def test_a_partial_catalog_is_published_off_the_menu_and_falls_back(app, phone_factory):
    outcome = _publish(app, {"prompts/th.yaml": _thai(app, {"main": {"help": "ช่วยเหลือ"}})})
    assert outcome.published, outcome.problems
    _live(app)
    services = runtime_of(app).services
    described = {lang.code: lang for lang in languages.described(services.book, services.catalog)}
    assert described["th"].name == "ภาษาไทย" and not described["th"].complete
    assert 0 < described["th"].covered < described["th"].total == described["lo"].total == described["lo"].covered
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        add_member(db, "+8562055510002", language="th")
    listed = walk(phone_factory("+8562055510001"), "4")[-1]  # Language on the menu
    assert "English" in listed and "ภาษาไทย" not in listed
    screen = walk(phone_factory("+8562055510002"))[-1]
    assert "Next session" in screen and "ช่วยเหลือ" in screen  # English where Thai has no text yet


def test_a_complete_catalog_joins_the_language_menu_by_its_own_name(app, phone_factory):
    english = yaml.safe_load(_documents(app)["prompts/en.yaml"])
    english.pop("catalog")
    english["main"]["next_session"] = "กิจกรรมต่อไป"
    english["main"]["menu"] = "สวัสดี!"  # Thai script makes a page 80 characters: the check holds her to it
    english["format"]["datetime_short"] = "d/M HH:mm"  # ("ศุกร์" is longer than "Fri")
    assert _publish(app, {"prompts/th.yaml": _thai(app, english)}).published
    _live(app)
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
    phone = phone_factory("+8562055510001")
    listed = walk(phone, "4")[-1]  # Language on the menu
    assert "ພາສາລາວ" in listed and "English" in listed and "ภาษาไทย" in listed
    thai = next(line.split(".")[0] for line in listed.splitlines() if "ภาษาไทย" in line)
    assert "กิจกรรมต่อไป" in phone.press(thai)
    assert "กิจกรรมต่อไป" in walk(phone)[-1]  # her language now


def test_a_catalog_that_describes_itself_wrongly_is_refused(app):
    for meta, says in [
        ({"name": ""}, "catalog.name"),
        ({"digits": "abc"}, "catalog.digits"),
        ({"fallback": "xx"}, "catalog.fallback: xx has no catalog"),
    ]:
        outcome = _publish(app, {"prompts/th.yaml": _thai(app, **meta)})
        assert not outcome.published and any(says in str(p) for p in outcome.problems), (meta, outcome.problems)


def test_a_promised_language_still_needs_every_text(app):
    """Lao and English (listed in flows/lists.yaml) cannot lose a text: that would take
    them off the menu."""
    lao = yaml.safe_load(_documents(app)["prompts/lo.yaml"])
    del lao["main"]["help"]
    outcome = _publish(app, {"prompts/lo.yaml": yaml.safe_dump(lao, allow_unicode=True)})
    assert not outcome.published
    assert any("prompt 'main.help' is missing in lo.yaml" in str(p) for p in outcome.problems)


def test_the_fallback_chain_follows_each_catalog():
    documents = {
        "flows/main.yaml": "flow: main\nstart: a\nnodes:\n  a: {type: end, prompt: x.y}\n",
        "prompts/en.yaml": "catalog: {name: English}\nx: {y: hello, z: only English}\n",
        "prompts/lo.yaml": "catalog: {name: ພາສາລາວ, fallback: en}\nx: {y: ສະບາຍດີ}\n",
        "prompts/hnj.yaml": "catalog: {name: Hmoob, fallback: lo}\nx: {}\n",
    }
    catalog = Edition.build(1, documents, "Asia/Vientiane").catalog
    assert catalog.template("hnj", "x.y") == "ສະບາຍດີ"  # Hmong falls back to Lao first
    assert catalog.template("hnj", "x.z") == "only English"
    assert catalog.name("hnj") == "Hmoob" and catalog.template("lo", "lang.hnj") == "Hmoob"


def test_an_organiser_adds_a_language_on_the_dashboard(app, people):
    from gateway.store import users as accounts

    from .helpers import PASSWORD
    from .helpers import form_token as token
    from .test_quiz_builder import _client

    with runtime_of(app).db.session() as db:
        accounts.add(db, "lah@ngo.la", PASSWORD, "editor", language="en")
    viewer = _client(app, "kham@ngo.la")
    page = viewer.get("/content")
    form = {"csrf": token(page.data), "code": "th", "name": "ภาษาไทย", "digits": "๐๑๒๓๔๕๖๗๘๙", "fallback": "en"}
    assert viewer.post("/content/languages", data=form).status_code == 403
    assert app.test_client().post("/content/languages", data=form).status_code == 302  # to sign-in
    organiser = _client(app, "noy@ngo.la")
    form["csrf"] = token(organiser.get("/content").data)
    for bad in ({"code": "Thai"}, {"code": "lo"}, {"fallback": "xx"}, {"digits": "12345"}):
        assert "notice=" in organiser.post("/content/languages", data={**form, **bad}).headers["Location"]
    with runtime_of(app).db.session() as db:
        assert [row for row in versions.edits(db) if row.language == "th"] == []
    assert organiser.post("/content/languages", data=form).status_code == 302
    with runtime_of(app).db.session() as db:
        assert {row.key for row in versions.edits(db) if row.language == "th"} == {
            "catalog.name",
            "catalog.digits",
            "catalog.fallback",
        }
    draft = organiser.get("/content").get_data(as_text=True)
    assert "the language ภาษาไทย" in draft and "catalog.name" not in draft  # named by its draft name, once
    editor = _client(app, "lah@ngo.la")
    published = editor.post("/content/publish", data={"csrf": token(editor.get("/content").data)})
    assert published.status_code == 302, published.get_data(as_text=True)
    _live(app)
    services = runtime_of(app).services
    assert services.catalog.name("th") == "ภาษาไทย" and "th" not in services.book.lists["languages"].items
    content = editor.get("/content").get_data(as_text=True)
    assert "ภาษาไทย" in content and "not yet: every text must be written" in content


def test_a_catalog_from_before_catalogs_described_themselves_still_publishes(app):
    """An install's own content, published before this release, has no `catalog:`
    section: it keeps working, shown by its code and its lang.* labels."""
    lao = yaml.safe_load(_documents(app)["prompts/lo.yaml"])
    lao.pop("catalog")
    outcome = _publish(app, {"prompts/lo.yaml": yaml.safe_dump(lao, allow_unicode=True)})
    assert outcome.published, outcome.problems
    _live(app)
    services = runtime_of(app).services
    assert services.catalog.name("lo") == "lo" and services.catalog.template("en", "lang.lo") == "ພາສາລາວ"
    assert "lo" in services.book.lists["languages"].items
