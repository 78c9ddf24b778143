"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by
Playwright): signing in, a CSV with a bad row, the Lao broadcast counter, sending
against the fake Africa's Talking with the progress bar moving to the end, a poll
and its chart, and switching to Lao. Screenshots of each page, in both languages,
go to ``$OUTREACH_SCREENSHOTS`` when it is set, to be looked at.

``.ci/run`` installs Chromium and sets ``OUTREACH_BROWSER_TESTS=required``, so
there a missing browser fails the run; elsewhere these tests are skipped with the
reason when Chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from gateway.encoding import sms_size
from gateway.runtime import runtime_of
from gateway.store import users as accounts

from .fakes import drain
from .helpers import PASSWORD, add_member

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = os.environ.get("OUTREACH_SCREENSHOTS")
REQUIRED = os.environ.get("OUTREACH_BROWSER_TESTS") == "required"

try:
    from playwright import sync_api
except ImportError:
    sync_api = None
if CHROMIUM is None or sync_api is None:
    missing = "Chromium (apt-get install chromium)" if CHROMIUM is None else "Playwright (pip install -e '.[test]')"
    if REQUIRED:
        raise RuntimeError(f"OUTREACH_BROWSER_TESTS=required but {missing} is not installed")
    pytest.skip(f"{missing} is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    playwright = sync_api.sync_playwright().start()
    # A fake microphone (a beeping tone) that needs no permission prompt: the studio's
    # recorder runs for real, MediaRecorder and all.
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
    )
    yield chromium
    chromium.close()
    playwright.stop()


class LiveServer:
    """The app on a real port, in a thread, as gunicorn would serve it."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def site(at_app):
    with runtime_of(at_app).db.session() as db:
        accounts.add(db, "noy@ngo.la", PASSWORD, "organiser", language="en")
    live = LiveServer(at_app)
    live.app = at_app
    yield live
    live.stop()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # "Send to 3 people…?": yes
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def shot(page, name: str, full: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full)


def wait_until(page, expression: str, timeout_s: float = 10.0) -> None:
    """Playwright's ``wait_for_function`` compiles its predicate with eval, which the
    dashboard's Content-Security-Policy forbids (as it should); ``evaluate`` runs as
    the debugger, outside the page's policy, so poll with it instead."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        time.sleep(0.05)


def sign_in(page, site):
    page.goto(f"{site.url}/")
    assert "/login" in page.url
    page.click("text=English")
    page.fill("input[name=email]", "noy@ngo.la")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:text('Overview')")


def test_sign_in_and_switch_the_interface_to_lao(page, site):
    with runtime_of(site.app).db.session() as db:
        add_member(db, "+8562055512345", name="ນ້ອຍ", province="bokeo")
    page.goto(f"{site.url}/")
    shot(page, "login-lo")
    sign_in(page, site)
    shot(page, "overview-en")
    page.click("text=ພາສາລາວ")
    page.wait_for_selector("h1:text('ພາບລວມ')")
    assert page.locator("nav").inner_text().count("ສະມາຊິກ") == 1
    shot(page, "overview-lo")
    page.click("nav >> text=ສະມາຊິກ")
    page.wait_for_selector("text=ນ້ອຍ")
    shot(page, "members-lo")
    # The Lao font is the bundled one, and it is really used for Lao text.
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Phetsarath OT" in family
    assert page.evaluate("document.fonts.check('16px \"Phetsarath OT\"', 'ສະມາຊິກ')")


def test_a_csv_with_one_bad_row_is_shown_with_its_line(page, site, tmp_path):
    sign_in(page, site)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "phone,name,province,language,topics\n"
        "+8562055512345,Noy,Bokeo,lo,nutrition\n"
        "+8562055512346,ແສງ,Vientiane Capital,lo,wash\n"
        "not-a-number,Kham,Bokeo,en,\n",
        encoding="utf-8-sig",
    )
    page.click("nav >> text=Members")
    page.click("text=Import CSV")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("form button:text('Import')")
    report = page.locator("[data-import-report]")
    report.wait_for()
    assert "2 added, 0 updated, 1 not imported" in report.inner_text()
    row = page.locator("table.bad-rows tr").nth(1).inner_text()
    assert row.startswith("4") and "not a valid number" in row
    shot(page, "import-en")


COUNTER_SAMPLES = [
    "Hello",
    "a" * 160,
    "a" * 161,
    "[" * 80,
    "[" * 81,
    "Price: 5€ {name}",
    "ສະບາຍດີ",
    "ສ" * 70,
    "ສ" * 71,
    "ສ" * 134,
    "ສ" * 135,
    "Hi 👋",
    "line one\nline two",
    "ກໍາລັງ",
    "  padded  ",
    "Ça va? Æble",
]


def test_the_lao_broadcast_counter_agrees_with_the_server_then_it_sends_to_the_end(page, site):
    with runtime_of(site.app).db.session() as db:
        for n in range(12):
            add_member(db, f"+85620555123{n:02d}", name=f"ນ້ອຍ{n}", language="lo", topics=["nutrition"])
        add_member(db, "+8562055598765", name="Kham", language="en", topics=["wash"])
    sign_in(page, site)
    page.goto(f"{site.url}/broadcasts/new")
    # The page's counter and the server's rules, on the awkward cases.
    for sample in COUNTER_SAMPLES:
        ours = page.evaluate(
            "([text, alphabet]) => window.outreachSmsSize(text, JSON.parse(alphabet))",
            [sample, page.get_attribute("[data-composer]", "data-alphabet")],
        )
        server = sms_size(sample.strip().replace("\u0ecd\u0eb2", "\u0eb3"))
        assert (ours["encoding"], ours["length"], ours["segments"]) == (
            server.encoding,
            server.length,
            server.segments,
        ), sample
    text = "ສະບາຍດີ {name}! ກິດຈະກຳໂພຊະນາການຈະເລີ່ມວັນເສົາ ເວລາ 14:00 ໂມງ ທີ່ຫ້ອງການເມືອງ. ກະລຸນາມາໃຫ້ທັນເວລາ ແລະ ເອົາປຶ້ມບັນທຶກມານຳ."
    page.fill("input[name=name]", "Saturday reminder")
    page.locator("textarea[name=text_lo]").type(text, delay=2)  # as she types it, key by key
    counter = page.locator("[data-counter=lo]")
    expected = sms_size(text)
    assert counter.get_attribute("data-encoding") == "UCS-2" == expected.encoding
    assert int(counter.get_attribute("data-segments")) == expected.segments == 2
    assert "Lao letters: 70 a part" in counter.inner_text() and "2 SMS" in counter.inner_text()
    page.check("input[name=topic][value=nutrition]")
    wait_until(page, "document.querySelector('[data-recipients]').dataset.total === '12'")
    assert "12 recipients" in page.locator("[data-estimate]").inner_text()
    shot(page, "composer-en")
    page.click("button:text('Preview')")
    page.wait_for_selector("[data-preview-total]")
    assert "12 recipients" in page.locator("[data-preview-total]").inner_text()
    shot(page, "preview-en")
    page.check("input[name=confirm]")
    page.click("button:text('Send now')")
    page.wait_for_selector("progress[data-bar]")
    # The worker runs here; the page asks for progress by itself, without reloading.
    deadline = time.monotonic() + 30
    while page.get_attribute("[data-progress-url]", "data-finished") != "true":
        drain(site.app)
        assert time.monotonic() < deadline, "the progress bar never reached the end"
        page.wait_for_timeout(300)
    assert page.get_attribute("progress[data-bar]", "value") == "100"
    assert page.locator("[data-field=sent]").inner_text() == "12"
    assert page.locator("[data-field=remaining]").inner_text() == "0"
    assert page.locator("[data-state]").inner_text() == "Finished"
    shot(page, "progress-en")


def test_a_poll_is_created_and_its_chart_reads_in_lao(page, site):
    with runtime_of(site.app).db.session() as db:
        add_member(db, "+8562055512345", name="Noy")
    sign_in(page, site)
    page.click("text=ພາສາລາວ")
    page.click("nav >> text=ແບບສຳຫຼວດ")
    page.click("text=ແບບສຳຫຼວດໃໝ່")
    page.fill("textarea[name=question_lo]", "ກິດຈະກຳຄັ້ງໜ້າ ເວລາໃດດີ?")
    page.fill("textarea[name=question_en]", "When should we meet next?")
    page.fill("textarea[name=options_lo]", "ຕອນເຊົ້າ\nຕອນແລງ")
    page.fill("textarea[name=options_en]", "Morning\nEvening")
    page.click("button:text('ສ້າງແບບສຳຫຼວດ')")
    chart = page.locator("[data-chart] .wide svg")  # a laptop: the wide drawing
    chart.wait_for()
    labels = chart.locator("text").all_text_contents()
    assert "ກິດຈະກຳຄັ້ງໜ້າ ເວລາໃດດີ?" in labels and any("ຕອນເຊົ້າ" in t for t in labels)
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    shot(page, "poll-lo")


def test_the_simulator_walks_ussd_in_lao_and_english(page, site):
    sign_in(page, site)
    page.goto(f"{site.url}/simulator")
    page.click("[data-dial]")
    screen = page.locator("[data-ussd-screen]")
    wait_until(page, "!document.querySelector('[data-ussd-screen]').textContent.startsWith('Dial')")
    assert "ຊື່" in screen.inner_text()  # Lao first: her name, in Lao
    page.fill("[data-ussd-form] input", "0")
    page.click("[data-ussd-form] button[type=submit]")
    wait_until(page, "/name/i.test(document.querySelector('[data-ussd-screen]').textContent)")
    page.fill("[data-sms-form] input", "HELP")
    page.click("[data-sms-form] button")
    page.wait_for_selector(".thread .theirs")
    shot(page, "simulator-en")


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_pages_fit_a_laptop_and_a_phone(browser, site, width, height):
    with runtime_of(site.app).db.session() as db:
        add_member(db, "+8562055512345", name="ນ້ອຍ ພົມມະຈັນ", province="bokeo")
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    sign_in(tab, site)
    for path in ("/", "/members", "/sessions", "/broadcasts/new", "/polls/new", "/quiz", "/simulator"):
        tab.goto(f"{site.url}{path}")
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a {width}px screen"
        shot(tab, f"{path.strip('/').replace('/', '-') or 'overview'}-{width}")
    context.close()


def test_the_prompt_studio_takes_a_file_and_the_row_turns_recorded(page, site, tmp_path):
    from .audio import wav

    take = tmp_path / "goodbye.wav"
    take.write_bytes(wav())
    sign_in(page, site)
    page.click("nav >> text=Voice prompts")
    page.wait_for_selector("[data-studio][data-ready]")  # its script has taken the file inputs
    shot(page, "studio-en", full=False)
    row = page.locator('tr[data-row="lo/voice.goodbye"]')
    assert row.locator(".tag").inner_text() == "missing"
    row.locator("input[data-upload]").set_input_files(str(take))
    row.locator(".tag.recorded").wait_for()
    assert "Saved (1.5 s)" in row.locator("[data-state]").inner_text()
    assert row.locator("audio").get_attribute("src").startswith(
        f"{site.url}/audio/lo/voice.goodbye.wav"
    ) or "/audio/lo/voice.goodbye.wav" in row.locator("audio").get_attribute("src")
    page.click("text=ພາສາລາວ")
    page.wait_for_selector("h1:text('ບັນທຶກສຽງ')")
    shot(page, "studio-lo", full=False)


def test_the_prompt_studio_records_from_the_microphone(page, site):
    """Record, wait, Stop: the browser's WebM/Opus goes up, is converted, and plays."""
    sign_in(page, site)
    page.goto(f"{site.url}/prompts?q=voice.sorry_english&lang=lo")
    row = page.locator('tr[data-row="lo/voice.sorry_english"]')
    row.locator("[data-record]").click()
    row.locator("[data-record]:text('Stop')").wait_for()
    page.wait_for_timeout(2500)  # the fake microphone beeps about once a second
    row.locator("[data-record]").click()
    row.locator(".tag.recorded").wait_for(timeout=15_000)
    assert "Saved" in row.locator("[data-state]").inner_text()
    library = runtime_of(site.app).audio
    assert library.has("lo", "voice.sorry_english") and library.info("lo", "voice.sorry_english")["source"] == "browser"
    assert (
        page.evaluate(
            "fetch(document.querySelector('tr[data-row=\"lo/voice.sorry_english\"] audio').src)"
            ".then(r => r.headers.get('content-type'))"
        )
        == "audio/wav"
    )


SECURITY_HEADERS = {"content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"}


def test_an_admin_disables_an_organiser_whose_open_page_is_signed_out(browser, site):
    """Two browsers: the organiser's page is open; the admin disables her on the Users
    page; her next click lands on the sign-in page, and her password no longer works."""
    with runtime_of(site.app).db.session() as db:
        accounts.add(db, "admin@ngo.la", PASSWORD, "admin", language="en")
    contexts = [browser.new_context(viewport={"width": 1366, "height": 768}) for _ in range(2)]
    organiser, admin = (context.new_page() for context in contexts)
    try:
        for tab in (organiser, admin):
            tab.set_default_timeout(10_000)
            tab.on("dialog", lambda dialog: dialog.accept())
        sign_in(organiser, site)
        organiser.goto(f"{site.url}/members")
        headers = {k.lower() for k in organiser.goto(f"{site.url}/members").headers}
        assert SECURITY_HEADERS <= headers
        admin.goto(f"{site.url}/login")
        admin.click("text=English")
        admin.fill("input[name=email]", "admin@ngo.la")
        admin.fill("input[name=password]", PASSWORD)
        admin.click("main form button[type=submit]")
        admin.click("nav >> text=Users")
        row = admin.locator("tr", has_text="noy@ngo.la")
        shot(admin, "users-en")
        row.locator("button", has_text="Disable").click()
        admin.wait_for_selector("text=noy@ngo.la can no longer sign in")
        assert "Disabled" in admin.locator("tr", has_text="noy@ngo.la").inner_text()
        organiser.click("nav >> text=Sessions")  # her next request
        assert "/login" in organiser.url
        organiser.fill("input[name=email]", "noy@ngo.la")
        organiser.fill("input[name=password]", PASSWORD)
        organiser.click("main form button[type=submit]")
        # Her cookie was emptied, so the page speaks the gateway's language (Lao) again.
        assert organiser.locator("[role=alert]").inner_text().startswith("ອີເມວ ຫຼື ລະຫັດຜ່ານບໍ່ຖືກຕ້ອງ")
        admin.click("text=ພາສາລາວ")
        admin.wait_for_selector("h1:text('ຜູ້ໃຊ້')")
        shot(admin, "users-lo")
    finally:
        for context in contexts:
            context.close()


def test_signing_out_ends_the_session_even_when_the_old_cookie_is_replayed(browser, site):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        sign_in(tab, site)
        cookies = context.cookies()
        assert tab.goto(f"{site.url}/members").status == 200
        tab.click("text=Sign out")
        assert "/login" in tab.url
        context.add_cookies(cookies)  # the cookie from before, replayed
        tab.goto(f"{site.url}/members")
        assert "/login" in tab.url
        for path in ("/login", "/members", "/static/dashboard/dashboard.css"):
            headers = {k.lower() for k in tab.goto(f"{site.url}{path}").headers}
            assert {"x-frame-options", "x-content-type-options", "referrer-policy"} <= headers, path
    finally:
        context.close()
