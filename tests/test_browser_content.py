"""Content end to end, in Chromium, against ``outreach up`` (two gunicorn workers,
the RQ worker and its inbox drainer): an organiser writes a three-question Lao quiz
and tries it in the simulator; an admin publishes it; a member takes it by USSD
(whichever worker answers) and then by SMS; the report shows her answers; a second
editor's change to the same text is a conflict; a revert is heard on the next hop."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request

from sqlalchemy import select

from gateway.phone import fictional
from gateway.store import users as accounts
from gateway.store.database import Database
from gateway.store.models import Member, OutboundMessage, utcnow

from .helpers import PASSWORD, shared_secret
from .test_browser import CHROMIUM, browser, shot, wait_until  # noqa: F401 (browser: the fixture)
from .test_up import start_up, stop

MEMBER = "+8562055510001"
QUIZ = [
    ("ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?", "Who decides to share your data?", ("ທ່ານເອງ", "You"), ("ທຸກຄົນ", "Anyone"), 1),
    ("ຍິນຍອມແລ້ວ ຖອນຄືນໄດ້ບໍ?", "Can consent be withdrawn?", ("ບໍ່ໄດ້", "No"), ("ໄດ້ ທຸກເວລາ", "Yes, any time"), 2),
    ("ຂ່າວປອມ ຄວນເຮັດແນວໃດ?", "What to do with fake news?", ("ແບ່ງປັນຕໍ່", "Share it"), ("ບໍ່ແບ່ງປັນ", "Do not share"), 2),
]


class Handset:
    """A member's phone on the running gateway's USSD webhook, over HTTP."""

    def __init__(self, url: str):
        self.url, self.session, self.text = url, "", ""

    def dial(self) -> str:
        self.session, self.text = f"e2e-{time.monotonic_ns()}", ""
        return self._post()

    def press(self, typed: str) -> str:
        self.text = typed if not self.text else f"{self.text}*{typed}"
        return self._post()

    def _post(self) -> str:
        form = urllib.parse.urlencode(
            {
                "sessionId": self.session,
                "serviceCode": "*384#",
                "phoneNumber": MEMBER,
                "networkCode": "45701",
                "text": self.text,
            }
        ).encode()
        return urllib.request.urlopen(self.url, form, timeout=10).read().decode()


def _sign_in(context, url: str, email: str):
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto(f"{url}/login")
    tab.fill("input[name=email]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("main form button[type=submit]")
    tab.wait_for_url(f"{url}/")
    return tab


def _option(screen: str, words: str) -> str:
    return next(line.split(".")[0].split()[-1] for line in screen.splitlines() if words in line)


def test_an_organiser_writes_a_quiz_a_member_takes_it_and_a_revert_is_heard(
    browser,  # noqa: F811 (the fixture, imported above)
    make_app,
    tmp_path,
    database_url,
):
    make_app()  # a clean database, the shipped content published
    database = Database(database_url)
    with database.session() as db:
        noy_id = accounts.add(db, "noy@ngo.la", PASSWORD, "organiser", language="lo").id
        accounts.add(db, "admin@ngo.la", PASSWORD, "admin", language="en")
        for number in (MEMBER, fictional(noy_id)):  # a member, and the organiser's test number
            db.add(Member(phone=number, name="Noy", language="lo", province="bokeo", consent_at=utcnow()))
    process, port = start_up(tmp_path, database_url, USSD_RATE_LIMIT="1000")
    url = f"http://127.0.0.1:{port}"
    token = shared_secret(database_url)
    phone = Handset(f"{url}/ussd/africastalking?token={token}")
    organiser_context = browser.new_context(viewport={"width": 1366, "height": 900})
    admin_context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        # The organiser writes the quiz, in Lao first.
        noy = _sign_in(organiser_context, url, "noy@ngo.la")
        noy.goto(f"{url}/content/quizzes/new")
        noy.fill("input[name=name]", "laws")
        noy.fill("input[name=title_lo]", "ກົດໝາຍ ແລະ ສິດ")
        noy.fill("input[name=title_en]", "Laws and rights")
        for n, (ask_lo, ask_en, (a1_lo, a1_en), (a2_lo, a2_en), right) in enumerate(QUIZ, start=1):
            for field, value in (
                (f"q{n}_ask_lo", ask_lo),
                (f"q{n}_ask_en", ask_en),
                (f"q{n}_a1_lo", a1_lo),
                (f"q{n}_a1_en", a1_en),
                (f"q{n}_a2_lo", a2_lo),
                (f"q{n}_a2_en", a2_en),
                (f"q{n}_why_lo", "ເພາະວ່າ."),
                (f"q{n}_why_en", "Because."),
            ):
                noy.fill(f"input[name={field}]", value)
            noy.check(f"input[name=q{n}_answer][value='{right}']")
        noy.click("form.form > button[type=submit]")
        noy.wait_for_url("**/content/quizzes/laws?saved=1")
        shot(noy, "content-quiz-saved-lo")

        # She tries the draft on her own test number; members still get the published content.
        noy.goto(f"{url}/content")
        noy.click("form[action$='/content/preview'] button")
        noy.wait_for_url("**/simulator**")
        noy.click("[data-dial]")
        wait_until(noy, "document.querySelector('[data-ussd-screen]').textContent.includes('ທົດສອບຄວາມຮູ້')")
        noy.fill("[data-ussd-form] input[name=input]", "2")
        noy.click("[data-ussd-form] button[type=submit]")
        wait_until(noy, "document.querySelector('[data-ussd-screen]').textContent.includes('ກົດໝາຍ ແລະ ສິດ')")
        shot(noy, "content-quiz-preview-lo")
        assert "1/7" in (phone.dial(), phone.press("2"))[1]  # the member: only the shipped quiz
        assert noy.locator("form[action$='/content/publish']").count() == 0  # an organiser does not publish

        # The admin publishes the draft (every check runs, the hop walk included).
        admin = _sign_in(admin_context, url, "admin@ngo.la")
        admin.goto(f"{url}/content")
        admin.click("form[action$='/content/publish'] button")
        admin.wait_for_url("**/content?notice=**", timeout=60_000)

        # The member takes it by USSD, whichever gunicorn worker answers.
        deadline = time.monotonic() + 5
        while "ກົດໝາຍ ແລະ ສິດ" not in (listed := (phone.dial(), phone.press("2"))[1]):
            assert time.monotonic() < deadline, listed
        assert "1/3 ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?" in phone.press(_option(listed, "ກົດໝາຍ"))
        assert "ຍິນຍອມແລ້ວ" in phone.press("1")
        assert "ບໍ່ຖືກ. ທີ່ຖືກ: ໄດ້ ທຸກເວລາ" in phone.press("1")
        phone.press("1")
        assert "ທ່ານຕອບຖືກ 2 ໃນ 3 ຂໍ້" in phone.press("2")

        # Then by SMS: the drainer of `outreach up` answers into the outbox.
        def sms(text: str) -> str:
            form = urllib.parse.urlencode(
                {
                    "from": MEMBER,
                    "to": "20880",
                    "text": text,
                    "id": f"e2e{time.monotonic_ns()}",
                    "date": "",
                    "linkId": "",
                }
            ).encode()
            with database.session() as db:
                last = db.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()).limit(1)) or 0
            urllib.request.urlopen(f"{url}/sms/africastalking?token={token}", form, timeout=10).read()
            deadline = time.monotonic() + 15
            while True:
                with database.session() as db:
                    body = db.scalar(
                        select(OutboundMessage.body).where(OutboundMessage.id > last).order_by(OutboundMessage.id)
                    )
                if body:
                    return body
                assert time.monotonic() < deadline, f"no reply to {text!r}"
                time.sleep(0.2)

        listed = sms("ທົດສອບ")
        assert "ກົດໝາຍ ແລະ ສິດ" in listed
        assert "ໃຜຕັດສິນວ່າຈະແບ່ງປັນຂໍ້ມູນ?" in sms(_option(listed, "ກົດໝາຍ"))
        assert "ຍິນຍອມແລ້ວ" in sms("1")

        # The report shows her answers.
        admin.goto(f"{url}/quiz?name=laws")
        report = admin.content()
        assert "Laws and rights" in report and "Who decides to share your data?" in report
        assert "1 finished attempts" in report or "1 finished attempt" in report
        shot(admin, "content-quiz-report-en")

        # Two editors, one text: the second gets a conflict showing both.
        key = "quiz.passwords.ask"
        noy.goto(f"{url}/content/text/{key}")
        admin.goto(f"{url}/content/text/{key}")
        noy.fill("textarea[name=text_lo]", "ລະຫັດແບບໃດປອດໄພກວ່າໝູ່?")
        noy.click("form.card button[type=submit]")
        noy.wait_for_url("**saved=1")
        admin.fill("textarea[name=text_lo]", "ລະຫັດຜ່ານແບບໃດ ດີທີ່ສຸດ?")
        admin.click("form.card button[type=submit]")
        admin.wait_for_selector(".conflict")
        conflict = admin.content()
        assert "ລະຫັດແບບໃດປອດໄພກວ່າໝູ່?" in conflict and "ລະຫັດຜ່ານແບບໃດ ດີທີ່ສຸດ?" in conflict
        shot(admin, "content-conflict-en")

        # Publish noy's text, hear it, then go back to the version before: the next hop has the old text.
        admin.goto(f"{url}/content")
        admin.click("form[action$='/content/publish'] button")
        admin.wait_for_url("**/content?notice=**", timeout=60_000)
        deadline = time.monotonic() + 5
        # (menu, the quiz list with the shipped quiz first, its first question)
        while "ລະຫັດແບບໃດປອດໄພກວ່າໝູ່?" not in (screen := (phone.dial(), phone.press("2"), phone.press("1"))[2]):
            assert time.monotonic() < deadline, screen
        admin.goto(f"{url}/content/versions")
        rows = admin.locator("form[action$='/revert'] button")
        rows.first.click()  # the newest past version: the one with the quiz, before the text changed
        admin.wait_for_url("**/content/versions?notice=**", timeout=60_000)
        deadline = time.monotonic() + 5
        while "ລະຫັດຜ່ານແບບໃດປອດໄພທີ່ສຸດ?" not in (screen := (phone.dial(), phone.press("2"), phone.press("1"))[2]):
            assert time.monotonic() < deadline, screen
    finally:
        organiser_context.close()
        admin_context.close()
        database.dispose()
        stop(process)
