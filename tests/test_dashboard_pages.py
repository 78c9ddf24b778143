"""Every dashboard page, through the Flask test client: what each role may see and
do, forms that refuse bad input without saving half of it, CSV import and export,
broadcasts from composer to sent, polls, sessions with their reminders, and the
simulator on the real webhooks."""

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.runtime import runtime_of
from gateway.store.models import AuditEvent, Broadcast, Member, OutboundMessage, Poll, Reminder, TrainingSession, utcnow

from .fakes import drain
from .helpers import PASSWORD, add_member, add_session, switch_language
from .helpers import form_token as token


def signed_in(app, email="noy@ngo.la"):
    client = app.test_client()
    form = client.get("/login").data
    client.post("/login", data={"csrf": token(form), "email": email, "password": PASSWORD, "next": "/"})
    client.csrf = token(client.get("/").data)
    return client


def post(client, url, data=None, **kwargs):
    return client.post(url, data={"csrf": client.csrf, **(data or {})}, **kwargs)


PAGES = [
    "/",
    "/members",
    "/sessions",
    "/broadcasts",
    "/polls",
    "/quiz",
    "/flows",
    "/flows/register",
    "/flows/register.svg",
    "/members?q=Noy&province=bokeo&status=registered",
    "/sessions?month=2031-02",
    "/broadcasts/audience?topic=nutrition",
    "/quiz.csv",
    "/content",
    "/content?q=ລະຫັດ",
    "/content/text/quiz.passwords.ask",
    "/content/versions",
    "/content/quizzes",
    "/content/quizzes/new",
]


@pytest.mark.parametrize("lang", ["en", "lo"])
def test_every_page_answers_in_both_languages(people, lang):
    client = signed_in(people, "admin@ngo.la")
    switch_language(client, lang)
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055512345", name="Noy", province="bokeo", topics=["nutrition"])
        add_session(db)
    for page in PAGES + ["/members/import", "/broadcasts/new", "/polls/new", "/sessions/new", "/simulator", "/audit"]:
        reply = client.get(page)
        assert reply.status_code == 200, page
    assert "ສະມາຊິກ" in client.get("/members").get_data(as_text=True) if lang == "lo" else True


def test_signed_out_pages_go_to_login_and_viewers_cannot_change_anything(people):
    anonymous = people.test_client()
    for page in PAGES:
        assert anonymous.get(page).status_code == 302
    viewer = signed_in(people, "kham@ngo.la")
    with runtime_of(people).db.session() as db:
        member = add_member(db, "+8562055512345", name="Noy")
        add_session(db)
        member_id = member.id
    for page in (
        "/members/import",
        "/broadcasts/new",
        "/polls/new",
        "/sessions/new",
        "/simulator",
        "/members/export.csv",
        "/audit",
    ):
        assert viewer.get(page).status_code == 403, page
    sent = post(viewer, "/broadcasts/new", {"text_en": "Hello", "name": "x"})
    assert sent.status_code == 403
    assert post(viewer, f"/members/{member_id}", {"name": "Changed", "language": "lo"}).status_code == 403
    assert post(viewer, f"/members/{member_id}/erase", {"confirm": "yes"}).status_code == 403
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(Broadcast.id))) == 0
        assert db.get(Member, member_id).name == "Noy"


def test_a_viewer_who_posts_a_send_gets_403_and_nothing_is_sent(people):
    organiser, viewer = signed_in(people), signed_in(people, "kham@ngo.la")
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055512345", name="Noy")
    made = post(organiser, "/broadcasts/new", {"text_en": "Hello {name}", "name": "hello"})
    broadcast_id = int(made.location.rsplit("/", 1)[1])
    refused = post(viewer, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"})
    assert refused.status_code == 403
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(OutboundMessage.id))) == 0
        assert db.get(Broadcast, broadcast_id).status == "draft"


def test_members_search_by_name_or_last_digits_and_filters(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055512345", name="Noy Phommachanh", province="bokeo")
        add_member(db, "+8562055598765", name="ແສງ", province="vientiane_capital", language="lo")
        add_member(db, "+8562055511111", name="Kham", registered=False)

    def names(query):
        page = client.get(f"/members?{query}").get_data(as_text=True)
        return set(re.findall(r'/members/\d+">([^<]+)<', page))

    assert names("q=noy") == {"Noy Phommachanh"}
    assert names("q=8765") == {"ແສງ"}
    assert names("q=ແສງ") == {"ແສງ"}
    assert names("province=bokeo") == {"Noy Phommachanh"}
    assert names("status=not_registered") == {"Kham"}
    assert names("q=%25") == set()  # a LIKE wildcard is searched as a character
    page = client.get("/members").get_data(as_text=True)
    assert "+8562055512345" not in page and "*345" in page  # numbers masked in the list
    with runtime_of(people).db.session() as db:
        for n in range(60):
            add_member(db, f"+85620555{n:05d}", name=f"Many {n}")
    first = client.get("/members?q=many").get_data(as_text=True)
    assert "60 found" in first and "Page 1 of 2" in first and "page=2&amp;q=many" in first
    assert len(names("q=many&page=2")) == 10 and names("q=many&page=99") == names("q=many&page=2")
    # Pages past the middle are read from the far end: in the same order, none twice, none left out.
    with runtime_of(people).db.session() as db:
        for n in range(60, 160):
            add_member(db, f"+85620555{n:05d}", name=f"Many {n}")

    def ids(page: int) -> list[int]:
        return [
            int(i)
            for i in re.findall(r'/members/(\d+)">', client.get(f"/members?q=many&page={page}").get_data(as_text=True))
        ]

    listed = ids(1) + ids(2) + ids(3) + ids(4)
    assert [len(ids(n)) for n in (1, 2, 3, 4)] == [50, 50, 50, 10]
    assert listed == sorted(listed, reverse=True) and len(set(listed)) == 160


def test_editing_a_member_keeps_every_field_or_none_and_is_audited(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        member_id = add_member(db, "+8562055512345", name="Noy", province="bokeo", topics=["nutrition"]).id
    bad = post(
        client,
        f"/members/{member_id}",
        {
            "name": "x" * 81,
            "organisation": "New org",
            "province": "bokeo",
            "language": "lo",
            "topic": "nutrition",
            "reminders_by": "sms",
        },
    )
    assert bad.status_code == 400 and "up to 80 characters" in bad.get_data(as_text=True)
    with runtime_of(people).db.session() as db:
        assert db.get(Member, member_id).organisation is None  # nothing half-saved
    good = post(
        client,
        f"/members/{member_id}",
        {
            "name": "Noy P.",
            "organisation": "New org",
            "province": "bokeo",
            "language": "en",
            "topic": ["nutrition", "wash"],
            "reminders_by": "voice",
        },
    )
    assert good.status_code == 302
    with runtime_of(people).db.session() as db:
        row = db.get(Member, member_id)
        assert (row.name, row.organisation, row.language, row.reminder_channel) == ("Noy P.", "New org", "en", "voice")
        assert sorted(row.topics) == ["nutrition", "wash"]
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "member.edit"))
        assert event.actor == "noy@ngo.la" and "name" in event.detail and "topics" in event.detail
    page = client.get(f"/members/{member_id}").get_data(as_text=True)
    assert (
        "edited a member: name, organisation" in page and "+8562055512345" in page
    )  # history, and the whole number for an organiser


def test_erasing_needs_the_confirmation_then_removes_her(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        member_id = add_member(db, "+8562055512345", name="Noy").id
    assert "cannot be undone" in client.get(f"/members/{member_id}/erase").get_data(as_text=True)
    assert post(client, f"/members/{member_id}/erase").status_code == 302  # not confirmed: nothing happens
    with runtime_of(people).db.session() as db:
        assert db.get(Member, member_id).phone == "+8562055512345"
    done = post(client, f"/members/{member_id}/erase", {"confirm": "yes"})
    assert done.status_code == 200
    with runtime_of(people).db.session() as db:
        row = db.get(Member, member_id)
        assert row.phone is None and row.name is None and row.erased_at is not None
    assert client.get(f"/members/{member_id}").status_code == 404


def upload(client, data: bytes, name="members.csv"):
    return post(client, "/members/import", {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_csv_import_shows_each_bad_row_with_its_line_and_imports_the_rest(people):
    client = signed_in(people)
    text = (
        "phone,name,province,language,topics\n"
        "020 5551 2345,Noy,Bokeo,lo,nutrition\n"
        "12,Bad number,Bokeo,lo,\n"
        "+8562055598765,ແສງ,ຫຼວງພະບາງ,lo,wash\n"
        "+8562055598766,Kham,Atlantis,en,\n"
    )
    page = upload(client, ("\ufeff" + text).encode("utf-8"))  # Excel's "CSV UTF-8" has a BOM
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "2 added, 0 updated, 2 not imported" in body
    assert re.search(r">3</td><td>phone &#39;12&#39; is not a valid number", body)
    assert re.search(r">5</td><td>unknown province &#39;Atlantis&#39;", body)
    switch_language(client, "lo")
    lao = upload(client, text.encode("utf-8")).get_data(as_text=True)
    assert "ບໍ່ຮູ້ຈັກແຂວງ" in lao  # the reason in her language
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(Member.id))) == 2


def test_csv_from_excel_in_windows_1252_is_read_with_a_warning_and_a_wrong_file_is_refused(people):
    client = signed_in(people)
    latin = "phone,name,organisation\n+8562055512345,José,Café Solidarité\n".encode("cp1252")
    page = upload(client, latin).get_data(as_text=True)
    assert "1 added" in page and "Windows-1252" in page
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(Member.organisation)) == "Café Solidarité"
    utf16 = "phone,name\n+8562055598765,Noy\n".encode("utf-16")
    assert "1 added" in upload(client, utf16).get_data(as_text=True)
    wrong = upload(client, b"PK\x03\x04\x00\x00binary", name="members.xlsx")
    assert wrong.status_code == 400 and "CSV UTF-8" in wrong.get_data(as_text=True)
    header = upload(client, b"name,province\nNoy,Bokeo\n")
    assert header.status_code == 400 and "missing column(s) phone" in header.get_data(as_text=True)
    assert "Nothing was imported" in header.get_data(as_text=True)


def test_csv_export_has_a_bom_and_every_member(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055512345", name="ນ້ອຍ", topics=["nutrition"])
    reply = client.get("/members/export.csv")
    text = reply.get_data(as_text=True)
    assert text.startswith("\ufeff") and reply.headers["Content-Disposition"].endswith("members.csv")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0]["name"] == "ນ້ອຍ" and rows[0]["topics"] == "Nutrition"  # names, as on her pages
    assert rows[0]["province"] == "Savannakhet" and rows[0]["language"] == "ພາສາລາວ"
    assert rows[0]["phone"] == "+8562055512345"  # a number stays a number
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", rows[0]["consent"])  # local time, no offset
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055598765", name='=HYPERLINK("http://evil.example","click")')
    rows = list(csv.DictReader(io.StringIO(client.get("/members/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.example","click")'  # shown, never run by Excel
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055511111", name="Kham", province="bokeo")
    shown = client.get("/members?province=bokeo").get_data(as_text=True)
    assert "/members/export.csv?province=bokeo" in shown
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/members/export.csv?province=bokeo").get_data(as_text=True).lstrip("\ufeff"))
        )
    )
    assert [row["name"] for row in rows] == ["Kham"]  # the filter she chose, not everyone


def test_a_session_is_added_with_its_reminders_edited_and_cancelled(people):
    client = signed_in(people)
    starts = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "title_lo": "ໂພຊະນາການ",
        "title_en": "Nutrition hangout",
        "kind": "hangout",
        "topic": "nutrition",
        "language": "lo",
        "starts_at": starts,
        "duration_minutes": "60",
        "place": "Vientiane",
        "capacity": "",
        "feedback_after": "2h",
    }
    missing = post(client, "/sessions/new", {**form, "place": ""})
    assert missing.status_code == 400 and "where or how to join" in missing.get_data(as_text=True)
    assert 'value="Nutrition hangout"' in missing.get_data(as_text=True)  # her text is kept
    past = post(client, "/sessions/new", {**form, "starts_at": "2020-01-01T10:00"})
    assert past.status_code == 400
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(TrainingSession.id))) == 0
    made = post(client, "/sessions/new", form)
    assert made.status_code == 302
    page = client.get(made.location).get_data(as_text=True)
    with runtime_of(people).db.session() as db:
        session_id = db.scalar(select(TrainingSession.id))
        reminders = db.scalars(select(Reminder).where(Reminder.session_id == session_id)).all()
    assert reminders and "Feedback poll" in page and "Reminder" in page
    edit = client.get(f"/sessions/{session_id}/edit").get_data(as_text=True)
    assert 'value="ໂພຊະນາການ"' in edit
    later = (utcnow() + timedelta(days=11)).strftime("%Y-%m-%dT%H:%M")
    assert post(client, f"/sessions/{session_id}/edit", {**form, "starts_at": later}).status_code == 302
    assert post(client, f"/sessions/{session_id}/cancel").status_code == 302
    with runtime_of(people).db.session() as db:
        assert db.get(TrainingSession, session_id).cancelled_at is not None
        statuses = set(db.scalars(select(Reminder.status).where(Reminder.session_id == session_id)))
        actions = set(db.scalars(select(AuditEvent.action)))
    assert statuses == {"cancelled"}
    assert {"session.create", "session.edit", "session.cancel"} <= actions
    calendar = client.get(f"/sessions?month={later[:7]}").get_data(as_text=True)
    assert f"/sessions/{session_id}" in calendar


def test_a_broadcast_from_composer_to_preview_to_sent_and_its_progress(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        for n in range(3):
            add_member(db, f"+856205551234{n}", name=f"Noy{n}", language="lo", topics=["nutrition"])
        add_member(db, "+8562055598765", name="Kham", language="en", topics=["wash"])
    counted = client.get("/broadcasts/audience?topic=nutrition").get_json()
    assert counted["total"] == 3 and counted["by_language"] == {"lo": 3}
    empty = post(client, "/broadcasts/new", {"text_lo": "", "text_en": "", "topic": "nutrition"})
    assert empty.status_code == 400
    nobody = post(client, "/broadcasts/new", {"text_en": "Hi", "province": "bokeo", "topic": "nutrition"})
    assert nobody.status_code == 400 and "Nobody is in this audience" in nobody.get_data(as_text=True)
    text_lo = "ສະບາຍດີ {name}! ກອງປະຊຸມໂພຊະນາການຈະເລີ່ມໃນວັນເສົາ ເວລາ 14:00 ທີ່ຫ້ອງການ ກະລຸນາມາໃຫ້ທັນເວລາ"
    made = post(
        client,
        "/broadcasts/new",
        {"name": "Saturday", "text_lo": text_lo, "text_en": "Hi {name}", "topic": "nutrition"},
    )
    assert made.status_code == 302
    preview = client.get(made.location).get_data(as_text=True)
    assert "Lao letters: 70 a part" in preview and "3 recipients" in preview and "Send now" in preview
    broadcast_id = int(made.location.rsplit("/", 1)[1])
    unconfirmed = post(client, f"/broadcasts/{broadcast_id}/send")
    with runtime_of(people).db.session() as db:
        assert unconfirmed.status_code == 302 and db.get(Broadcast, broadcast_id).status == "draft"
    post(client, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"})
    post(client, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"})  # a double click sends once
    progress = client.get(f"/broadcasts/{broadcast_id}/progress").get_json()
    assert progress["total"] == 3 and progress["remaining"] == 3 and not progress["finished"]
    drain(people)
    progress = client.get(f"/broadcasts/{broadcast_id}/progress").get_json()
    assert progress["sent"] == 3 and progress["remaining"] == 0 and progress["finished"]
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(OutboundMessage.id))) == 3
        assert [e for e in db.scalars(select(AuditEvent.action)) if e.startswith("broadcast.")] == [
            "broadcast.create",
            "broadcast.send",
        ]


def test_cancelling_a_broadcast_stops_what_is_not_sent(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        for n in range(4):
            add_member(db, f"+856205551234{n}", name=f"Noy{n}")
    made = post(client, "/broadcasts/new", {"text_en": "Hello"})
    broadcast_id = int(made.location.rsplit("/", 1)[1])
    post(client, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"})
    post(client, f"/broadcasts/{broadcast_id}/cancel")
    drain(people)
    progress = client.get(f"/broadcasts/{broadcast_id}/progress").get_json()
    assert progress["cancelled"] == 4 and progress["sent"] == 0 and progress["finished"]


def test_a_poll_is_created_its_chart_drawn_its_csv_downloaded_and_closed(people):
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055512345", name="Noy")
    unpaired = post(
        client,
        "/polls/new",
        {"question_lo": "ມັກບໍ?", "question_en": "Like it?", "options_lo": "ມັກ\nບໍ່ມັກ", "options_en": "Yes"},
    )
    assert unpaired.status_code == 400 and "ພາສາລາວ: 2, English: 1" in unpaired.get_data(as_text=True)
    one = post(client, "/polls/new", {"question_en": "Like it?", "options_en": "Yes"})
    assert one.status_code == 400 and "2 to 9 options" in one.get_data(as_text=True)
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(Poll.id))) == 0
    made = post(
        client,
        "/polls/new",
        {
            "question_lo": "ມັກບໍ?",
            "question_en": "Like it?",
            "options_lo": "ມັກ\nບໍ່ມັກ",
            "options_en": "Yes\nNo",
            "open_for": "3d",
        },
    )
    assert made.status_code == 302 and made.location.endswith("/polls/P1")
    page = client.get("/polls/P1").get_data(as_text=True)
    assert "<svg" in page and "Like it?" in page and "Send the question" in page
    switch_language(client, "lo")
    assert "ມັກບໍ?" in client.get("/polls/P1").get_data(as_text=True)
    table = client.get("/polls/P1.csv").get_data(as_text=True)
    assert table.startswith("\ufeffgroup,value,option,label,votes,percent")
    post(client, "/polls/P1/close")
    with runtime_of(people).db.session() as db:
        poll = db.scalar(select(Poll))
        assert poll.closed_at is not None
        broadcast_id = poll.broadcast_id
    post(client, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"})  # a closed poll's question stays unsent
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(OutboundMessage.id))) == 0


def test_the_simulator_walks_the_real_ussd_and_sms_flows(people):
    client = signed_in(people)
    first = post(client, "/simulator/ussd", {"session": "", "text": ""}).get_json()
    assert not first["ended"] and first["screen"]
    session = first["session"]
    second = post(client, "/simulator/ussd", {"session": session, "text": "0"}).get_json()
    assert "Name" in second["screen"] or "name" in second["screen"]  # English chosen on the welcome screen
    texted = post(client, "/simulator/sms", {"text": "HELP"}).get_json()
    assert texted["replies"] and texted["replies"][0]["text"]


def test_with_a_worker_running_the_simulator_waits_for_its_drainer(people):
    """The page does not process the inbox itself while a worker's drainer does:
    a worker registered in RQ's registry, and a drainer running in a thread."""
    import threading

    from rq import Worker

    from gateway.channels.sms.inbox import Inbox

    client = signed_in(people)
    services = runtime_of(people).services
    worker = Worker(list(services.queues.values()), connection=services.redis)
    worker.register_birth()
    drainer = Inbox(services, runtime_of(people).sms, services.config.instance_path)
    stop = threading.Event()
    thread = threading.Thread(target=drainer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        texted = post(client, "/simulator/sms", {"text": "HELP"}).get_json()
        assert texted["replies"] and texted["replies"][0]["text"]
    finally:
        stop.set()
        thread.join(timeout=5)
        worker.register_death()


def test_an_expired_session_returns_to_login_and_keeps_her_text(people):
    client = signed_in(people)
    with client.session_transaction() as session:  # what a browser holds after the session expires
        session.pop("user")
    text = "ສະບາຍດີ ທຸກຄົນ, a long text she typed"
    reply = client.post(
        "/broadcasts/new",
        data={"csrf": "stale", "text_lo": text, "name": "kept"},
        headers={"Origin": "http://localhost"},
    )
    assert reply.status_code == 302 and "/login?next=/broadcasts/new" in reply.location
    form = client.get("/login?next=/broadcasts/new").data
    back = client.post(
        "/login", data={"csrf": token(form), "email": "noy@ngo.la", "password": PASSWORD, "next": "/broadcasts/new"}
    )
    assert back.location == "/broadcasts/new"
    page = client.get("/broadcasts/new").get_data(as_text=True)
    assert text in page and 'value="kept"' in page
    assert text not in client.get("/broadcasts/new").get_data(as_text=True)  # given back once
    with runtime_of(people).db.session() as db:
        assert db.scalar(select(func.count(Broadcast.id))) == 0


def test_every_post_refuses_a_viewer_and_a_missing_token_and_changes_nothing(people):
    viewer, organiser = signed_in(people, "kham@ngo.la"), signed_in(people)
    with runtime_of(people).db.session() as db:
        member_id = add_member(db, "+8562055512345", name="Noy").id
        session_id = add_session(db).id
    made = post(organiser, "/broadcasts/new", {"text_en": "Hello"})
    broadcast_id = int(made.location.rsplit("/", 1)[1])
    post(organiser, "/polls/new", {"question_en": "Like it?", "options_en": "Yes\nNo"})

    def snapshot():
        with runtime_of(people).db.session() as db:
            return (
                db.scalar(select(func.count(Broadcast.id))),
                db.scalar(select(func.count(Poll.id))),
                db.scalar(select(func.count(TrainingSession.id))),
                db.scalar(select(func.count(OutboundMessage.id))),
                db.get(Member, member_id).name,
                db.get(TrainingSession, session_id).cancelled_at,
                db.scalar(select(Poll.closed_at)),
                db.get(Broadcast, broadcast_id).status,
            )

    before = snapshot()
    routes = {
        "/broadcasts/new": {"text_en": "Hi"},
        f"/broadcasts/{broadcast_id}/send": {"confirm": "yes"},
        f"/broadcasts/{broadcast_id}/cancel": {},
        "/polls/new": {"question_en": "Q", "options_en": "A\nB"},
        "/polls/P1/close": {},
        "/sessions/new": {"title_en": "T"},
        f"/sessions/{session_id}/edit": {"title_en": "T"},
        f"/sessions/{session_id}/cancel": {},
        f"/members/{member_id}": {"name": "Changed", "language": "lo"},
        f"/members/{member_id}/erase": {"confirm": "yes"},
        "/members/import": {},
        "/simulator/ussd": {"text": ""},
        "/simulator/sms": {"text": "HELP"},
    }
    for url, data in routes.items():
        assert post(viewer, url, data).status_code == 403, url
        tokenless = organiser.post(url, data=data)
        assert tokenless.status_code == 400, url
    assert snapshot() == before


def test_csv_import_forgives_spellings_asks_when_unsure_and_lists_every_error_of_a_row(people):
    """ວຽງຈັນ alone could be the capital or the province: it asks. Spaces, hyphens and
    a name's unmistakable part are accepted; a near miss gets a suggestion; a row with
    two problems names both."""
    import html

    client = signed_in(people)
    text = (
        "phone,name,province,language,topics\n"
        "020 5551 2301,A,ນະຄອນຫຼວງ ວຽງຈັນ,lo,ສຸຂະພາບ\n"
        "020 5551 2302,B,luang-prabang,en,Nutrition\n"
        "020 5551 2303,C,ວຽງຈັນ,lo,nutrition\n"
        "020 5551 2304,D,Savanakhet,lo,nutrition\n"
        "12,E,Atlantis,lo,nutrition\n"
    )
    page = html.unescape(upload(client, text.encode("utf-8")).get_data(as_text=True))
    assert "2 added" in page
    assert (
        "'ວຽງຈັນ' could be ນະຄອນຫຼວງວຽງຈັນ / ແຂວງວຽງຈັນ: write which" in page
        or "'ວຽງຈັນ' could be Vientiane Capital / Vientiane Province: write which" in page
    )
    assert "did you mean Savannakhet" in page
    assert "'12' is not a valid number" in page and "unknown province 'Atlantis'" in page
    with runtime_of(people).db.session() as db:
        added = {m.name: (m.province, m.topics) for m in db.scalars(select(Member))}
    assert added["A"] == ("vientiane_capital", ["health"]) and added["B"][0] == "luang_prabang"


def test_a_large_broadcast_is_prepared_by_a_worker_and_the_page_says_so(people, monkeypatch):
    """Past PREPARE_HERE_UP_TO recipients (a million takes most of a minute, more than
    a web request may) the Send button hands the writing to a worker: the page
    says so in her language, a second click and Delete wait, and the worker's job
    writes and queues it as the button would have."""
    from gateway.dashboard import broadcasts as page

    monkeypatch.setattr(page, "PREPARE_HERE_UP_TO", 2)
    client = signed_in(people)
    with runtime_of(people).db.session() as db:
        for n in range(3):
            add_member(db, f"+85620555700{n:02d}", name=f"Noy {n}")
    made = post(client, "/broadcasts/new", {"name": "big", "text_lo": "ສະບາຍດີ {name}", "text_en": "Hi {name}"})
    broadcast_id = int(made.location.rsplit("/", 1)[1])
    assert post(client, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"}).status_code == 302
    assert post(client, f"/broadcasts/{broadcast_id}/send", {"confirm": "yes"}).status_code == 302  # a double click
    waiting = client.get(f"/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "data-preparing" in waiting and "A worker is writing the messages for 3 recipients" in waiting
    assert "Send now" not in waiting and "Delete the draft" not in waiting
    assert post(client, f"/broadcasts/{broadcast_id}/delete").status_code == 302  # refused while it is prepared
    switch_language(client, "lo", f"/broadcasts/{broadcast_id}")
    assert "ລະບົບກຳລັງກຽມຂໍ້ຄວາມສຳລັບຜູ້ຮັບ 3 ຄົນ" in client.get(f"/broadcasts/{broadcast_id}").get_data(as_text=True)
    with runtime_of(people).db.session() as db:
        assert db.get(Broadcast, broadcast_id).status == "draft"
        assert db.scalar(select(func.count(OutboundMessage.id))) == 0
    drain(people)  # the worker: prepare_broadcast, then the batches it queued
    with runtime_of(people).db.session() as db:
        assert db.get(Broadcast, broadcast_id).status in ("sending", "done")
        bodies = sorted(db.scalars(select(OutboundMessage.body)))
        assert bodies == ["ສະບາຍດີ Noy 0", "ສະບາຍດີ Noy 1", "ສະບາຍດີ Noy 2"]
        assert [e for e in db.scalars(select(AuditEvent.action)) if e.startswith("broadcast.")] == [
            "broadcast.create",
            "broadcast.send",
        ]
    progress = client.get(f"/broadcasts/{broadcast_id}/progress").get_json()
    assert progress["total"] == 3 and progress["sent"] == 3
