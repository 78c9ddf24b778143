"""The survey builder and a survey's results on the dashboard: roles, the draft,
publishing, the sensitive promise kept, results hidden below five, the CSV, and
closing early."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.runtime import runtime_of
from gateway.store import users as accounts
from gateway.store.models import SurveyResponse

from .helpers import PASSWORD, add_member, walk
from .helpers import form_token as token
from .test_quiz_builder import _client, _drafted


def survey_form(page, name="safety", sensitive=True, **extra):
    form = {
        "csrf": token(page.data),
        "new": "1",
        "base": "",
        "name": name,
        "title_lo": "ຄວາມປອດໄພໃນຊຸມຊົນ",
        "title_en": "Safety where you live",
        "q1_kind": "choice",
        "q1_ask_lo": "ທ່ານເຄີຍຖືກຂົ່ມຂູ່ອອນລາຍບໍ?",
        "q1_ask_en": "Threatened online?",
        "q1_o1_lo": "ເຄີຍ",
        "q1_o1_en": "Yes",
        "q1_o2_lo": "ບໍ່ເຄີຍ",
        "q1_o2_en": "No",
        "q2_kind": "scale",
        "q2_ask_lo": "ປອດໄພປານໃດ? 0 ບໍ່, 10 ຫຼາຍ",
        "q2_ask_en": "How safe? 0 not, 10 very",
    }
    if sensitive:
        form["sensitive"] = "on"
    return {**form, **extra}


def _publish(app, client):
    page = client.get("/content")
    assert client.post("/content/publish", data={"csrf": token(page.data)}).status_code == 302
    runtime_of(app).services.library.forget()


def test_roles_decide_who_may_write_read_and_close_a_survey(app, people):
    outsider = app.test_client()
    for path in ("/content/surveys", "/content/surveys/new", "/surveys/safety", "/surveys/safety.csv"):
        assert outsider.get(path).status_code == 302, path
    assert outsider.post("/content/surveys", data={"name": "x"}).status_code == 302
    assert outsider.post("/surveys/safety/close").status_code == 302
    viewer = _client(app, "kham@ngo.la")
    page = viewer.get("/content/surveys")
    assert page.status_code == 200
    assert viewer.get("/content/surveys/new").status_code == 403
    assert viewer.post("/content/surveys", data=survey_form(page)).status_code == 403
    assert viewer.post("/surveys/safety/close", data={"csrf": token(page.data)}).status_code == 403
    assert viewer.get("/surveys/nope").status_code == 404
    assert _drafted(app) == {}


def test_an_organiser_writes_a_private_survey_members_answer_results_stay_hidden_below_five(app, people, phone_factory):
    with runtime_of(app).db.session() as db:
        accounts.add(db, "lah@ngo.la", PASSWORD, "editor", language="en")
        for n in range(6):
            add_member(db, f"+85620555100{n:02d}")
    organiser = _client(app, "noy@ngo.la")
    page = organiser.get("/content/surveys/new")
    saved = organiser.post("/content/surveys", data=survey_form(page))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert "sensitive: true" in _drafted(app)["surveys/safety.yaml"]
    _publish(app, _client(app, "lah@ngo.la"))

    for n in range(4):
        screens = walk(phone_factory(f"+85620555100{n:02d}"), "3", "1", "1", "໕")
        assert screens[-1].startswith("END"), screens
    results = organiser.get("/surveys/safety").get_data(as_text=True)
    assert "data-withheld" in results and "Threatened online?" not in results  # four answers: nothing at all
    csv = organiser.get("/surveys/safety.csv").get_data(as_text=True)
    assert len(csv.strip().splitlines()) == 1  # the heading only: fewer than five
    walk(phone_factory("+8562055510004"), "3", "1", "2", "9")
    csv = organiser.get("/surveys/safety.csv").get_data(as_text=True)
    assert "+856" not in csv and len(csv.strip().splitlines()) > 1

    # The promise holds: unticking "sensitive" is refused.
    page = organiser.get("/content/surveys/safety")
    assert "disabled" in page.get_data(as_text=True)
    refused = organiser.post("/content/surveys", data={**survey_form(page, sensitive=False), "new": "0", "base": "x"})
    assert refused.status_code == 400

    # Closing now deletes the answers and keeps the totals.
    closed = organiser.post("/surveys/safety/close", data={"csrf": token(page.data)})
    assert closed.status_code == 302
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    after = organiser.get("/surveys/safety").get_data(as_text=True)
    assert "data-withheld" not in after and "Threatened online?" in after  # the totals kept at the close
    assert "ຕອນນີ້ບໍ່ມີ" in walk(phone_factory("+8562055510005"), "3")[-1]


def test_hostile_input_to_the_builder_is_refused_on_the_form(app, people):
    organiser = _client(app, "noy@ngo.la")
    page = organiser.get("/content/surveys/new")
    for extra, status in [
        ({"name": "../x"}, 400),
        ({"q1_kind": "essay", "q1_o1_lo": "", "q1_o2_lo": "", "q1_o1_en": "", "q1_o2_en": ""}, 302),
        ({"q2_kind": "text", "q2_o1_lo": "x", "q2_o1_en": "x"}, 400),
        ({"title_lo": "<script>alert(1)</script>"}, 302),
    ]:
        response = organiser.post("/content/surveys", data={**survey_form(page, name="s" + str(status)), **extra})
        assert response.status_code in (status, 400), (extra, response.status_code)
        assert "<script>alert" not in response.get_data(as_text=True)
    assert all(name.startswith("surveys/s") for name in _drafted(app))
