"""The dashboard on a phone (390×844, in Lao): every page fits the screen, every
tap target is at least 44 px high, lists are labelled, and the header is one
line with a menu button that opens the links."""

from __future__ import annotations

from .helpers import add_member, add_session
from .test_browser import PASSWORD, browser, shot, site  # noqa: F401 (fixtures)
from gateway.runtime import runtime_of

PAGES = [
    "/",
    "/members",
    "/members/1",
    "/sessions",
    "/sessions/1",
    "/broadcasts",
    "/broadcasts/new",
    "/polls",
    "/polls/new",
    "/quiz",
    "/content",
    "/content/quizzes",
    "/content/quizzes/new",
    "/content/surveys",
    "/content/surveys/new",
    "/content/versions",
    "/flows",
    "/simulator",
    "/inbox",
    "/members/import",
    "/polls/P1",
    "/content/versions/1",
]

SMALL = """() => [...document.querySelectorAll('a, button, input, select, textarea, summary')].filter(e => {
  const box = e.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return false;  // not shown
  if (e.matches('input[type=checkbox], input[type=radio]')) {
    const label = e.closest('label');
    return !label || label.getBoundingClientRect().height < 44;  // the label is what she taps
  }
  return box.height < 44;
}).map(e => e.outerHTML.slice(0, 90))"""


def test_every_page_fits_a_phone_with_big_enough_targets(browser, site):  # noqa: F811
    with runtime_of(site.app).db.session() as db:
        add_member(db, "+8562055512345", name="ນ້ອຍ")
        add_session(db)
    from .test_dashboard_pages import post, signed_in

    post(
        signed_in(site.app),
        "/polls/new",
        {"question_lo": "ກອງປະຊຸມຄັ້ງນີ້ມີປະໂຫຍດບໍ?", "options_lo": "ມີປະໂຫຍດຫຼາຍ\nພໍໃຊ້ໄດ້\nບໍ່ມີປະໂຫຍດ", "open_for": "7d"},
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="lo-LA")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{site.url}/login")
    page.fill("input[name=email]", "noy@ngo.la")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    header = page.locator("header.bar")
    assert header.bounding_box()["height"] < 70  # one line: the name and the menu button
    assert not page.locator("#menu").is_visible()
    page.click("[data-menu]")
    assert page.locator("#menu").is_visible() and page.locator("[data-menu]").get_attribute("aria-expanded") == "true"
    with page.expect_navigation():
        page.click("header button:has-text('ພາສາລາວ')")  # her language, from the opened menu
    assert page.evaluate("document.documentElement.lang") == "lo"
    for path in PAGES:
        page.goto(site.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert page.evaluate(SMALL) == [], path
    page.goto(f"{site.url}/polls/P1")  # the chart's words stay readable on a phone: 11 px or more
    shown = page.evaluate(
        "[...document.querySelectorAll('[data-chart] svg text')]"
        ".map(t => t.getBoundingClientRect().height).filter(h => h > 0)"
    )
    assert shown and min(shown) >= 11, shown
    shot(page, "poll-chart-390", full=False)
    page.goto(f"{site.url}/members")
    first = page.locator("table.list tbody td").first
    assert first.get_attribute("data-label")  # a row says what each of its values is
    context.close()
