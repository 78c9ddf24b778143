"""Lao throughout: Chromium signs in as each role with her interface in Lao, follows
every link the dashboard offers her, and fails on a Latin-script word outside an
element marked ``lang="en"`` (English shown on purpose) and a short allow-list.
It reads what she reads: text, and the placeholders, titles and labels of controls.

The data is made the way an organiser makes it (members, a session, a sent
broadcast, a draft, a poll, a member's question in the inbox, an edit, an import),
so that statuses, reasons and audit actions are on the pages to be read."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from gateway.runtime import runtime_of
from gateway.store import users as accounts

from .fakes import drain
from .helpers import PASSWORD, add_member, add_session, at_text
from .test_browser import LiveServer, browser, shot  # noqa: F401 (fixture)
from .test_dashboard_pages import post, signed_in

# Words that are the same in a Lao sentence: channel, file and format names, providers
# and products, currency codes, the product's name, and the name of the English
# language on its own button.
ALLOWED = {
    "SMS",
    "USSD",
    "CSV",
    "SVG",
    "PDF",
    "Zoom",
    "Jitsi",
    "MP3",
    "WAV",
    "OGG",
    "WebM",
    "M4A",
    "Opus",
    "UTF",
    "Excel",
    "Africa's",
    "Talking",
    "Twilio",
    "Android",
    "SMPP",
    "HTTP",
    "HTTPS",
    "http",
    "https",
    "English",
    "USD",
    "LAK",
    "Outreach",
    "Gateway",
    "PIN",
}

# What she reads on a page, with the words in English on purpose left out (and names
# marked as no language, lang="zxx": a quiz's file name): the text (not scripts or
# styles, nor what a form holds for her to edit), option labels, and the
# placeholders, titles and labels of controls.
READ = r"""() => {
  const skip = el => el.closest('script, style, template, noscript, textarea, [lang]:not([lang=lo])');
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || skip(el) || !node.textContent.trim()) continue;
    out.push([el.tagName.toLowerCase(), node.textContent.trim()]);
  }
  for (const el of document.querySelectorAll('[placeholder], [title], [aria-label], img[alt]')) {
    if (skip(el)) continue;
    for (const name of ['placeholder', 'title', 'aria-label', 'alt']) {
      const value = el.getAttribute(name);
      if (value) out.push([el.tagName.toLowerCase() + '@' + name, value]);
    }
  }
  return out;
}"""

# Emails, addresses, {placeholders}, numbers, and poll codes (P1: what members type
# on a keypad to answer) are data or syntax, not words of the interface.
NOT_WORDS = re.compile(r"\S+@\S+|https?://\S+|\b[\w.-]+\.(?:la|org|com|si|net)\S*|\{[^}]*\}|\+?\d[\d ]+|\b[A-Z]\d+\b")
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9'’]*")
SKIPPED_LINKS = re.compile(r"\.(csv|svg|mp3|wav|ogg|webm|ttf)(\?|$)|/logout|/language/|/audio/|/fonts/")
ROLES = {"admin": "admin@ngo.la", "editor": "ed@ngo.la", "organiser": "noy@ngo.la", "viewer": "kham@ngo.la"}


def latin_words(pairs, names: set[str]) -> list[str]:
    found = []
    for where, text in pairs:
        for word in LATIN.findall(NOT_WORDS.sub(" ", text)):
            if word not in ALLOWED and word not in names:
                found.append(f"{word} ({where}: {text[:60]!r})")
    return found


def _seed(app) -> None:
    """A week of an organiser's work, made through the dashboard and the webhook."""
    with runtime_of(app).db.session() as db:
        for role, email in ROLES.items():
            accounts.add(db, email, PASSWORD, role, language="lo")
        for n, (name, province) in enumerate([("ນ້ອຍ", "vientiane_capital"), ("ຄຳ", "savannakhet"), ("ແກ້ວ", "bokeo")]):
            add_member(db, f"+85620555{n:05d}", name=name, province=province)
        add_session(db)
    admin = signed_in(app, "admin@ngo.la")
    made = post(admin, "/broadcasts/new", {"text_lo": "ສະບາຍດີ {name}"})
    post(admin, made.location + "/send", {"confirm": "yes"})
    post(admin, "/broadcasts/new", {"text_lo": "ຮ່າງ"})
    post(admin, "/polls/new", {"question_lo": "ເຈົ້າມັກບໍ?", "options_lo": "ມັກ\nບໍ່ມັກ", "open_for": "7d"})
    post(
        admin,
        "/members/1",
        {"name": "ນ້ອຍ ໃໝ່", "province": "vientiane_capital", "language": "lo", "topics": "nutrition"},
    )
    at_text(app.test_client(), "ຂ້ອຍຢາກຖາມ ກອງປະຊຸມຢູ່ໃສ?", phone="+8562055500001")
    drain(app)
    catalog = runtime_of(app).services.catalog
    texts = {
        f"{kind}_{lang}": catalog.template(lang, "register.welcome")
        for lang in ("lo", "en")
        for kind in ("text", "base")
    }
    texts["text_lo"] = texts["text_lo"].replace("ຍິນດີຕ້ອນຮັບ", "ສະບາຍດີ")  # a version that changes a text
    assert post(admin, "/content/text/register.welcome", texts).status_code == 302
    assert post(admin, "/content/publish").status_code == 302


def test_every_page_reads_in_lao_for_every_role(browser, at_app):  # noqa: F811
    _seed(at_app)
    names = {"ນ້ອຍ", "ຄຳ", "ແກ້ວ"}
    site = LiveServer(at_app)
    problems: dict[str, list[str]] = {}
    try:
        for role, email in ROLES.items():
            context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="lo-LA")
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{site.url}/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click("main button[type=submit]")
            assert page.evaluate("document.documentElement.lang") == "lo", role
            # Pages no list links to directly, or only the first of their kind would show.
            start = [
                "/",
                "/broadcasts/1",
                "/broadcasts/1/recipients",
                "/content/text/register.welcome",
                "/content/versions/2",
                "/flows/register",
                "/flows/quizzes",
            ]
            seen, queue, kin = set(start), list(start), Counter()
            while queue:
                path = queue.pop(0)
                response = page.goto(site.url + path)
                if response is None or response.status >= 400 or "html" not in response.headers.get("content-type", ""):
                    continue
                if role == "admin":
                    shot(page, "lao" + re.sub(r"\W+", "-", path).rstrip("-"))
                words = latin_words(page.evaluate(READ), names)
                if words:
                    problems[f"{role} {path}"] = words
                for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)"):
                    url = urlsplit(href)
                    if url.netloc != urlsplit(site.url).netloc or SKIPPED_LINKS.search(url.path):
                        continue
                    # One of each kind of page, and a few of each family: every
                    # member's page is the same page, as is every text's.
                    shape = re.sub(r"\d+", "N", url.path)
                    family = shape.rsplit("/", 1)[0] if shape.count("/") > 1 else shape
                    if shape not in seen and kin[family] < 4:
                        seen.add(shape)
                        kin[family] += 1
                        queue.append(url.path + (f"?{url.query}" if url.query else ""))
            assert len(seen) > 5, (role, seen)  # the crawl found her pages
            context.close()
    finally:
        site.stop()
    report = "\n".join(f"{where}: {', '.join(words[:12])}" for where, words in problems.items())
    assert not problems, f"Latin words on Lao pages:\n{report}"


# The ink of a Lao consonant and of Latin letters in the page's own font, measured by
# Chromium: Lao stands above the Latin x-height (it has no ascenders to carry it) and
# below the Latin capitals.
MEASURE = """async () => {
  await document.fonts.load('16px "Phetsarath OT"', 'ກ');
  const ink = ch => { const c = document.createElement('canvas').getContext('2d');
    c.font = '100px ' + getComputedStyle(document.body).fontFamily;
    const m = c.measureText(ch); return m.actualBoundingBoxAscent + m.actualBoundingBoxDescent; };
  return {lao: (ink('ກ') + ink('ນ') + ink('ວ')) / 3, x: (ink('x') + ink('n') + ink('o')) / 3, caps: ink('H')};
}"""


def test_lao_letters_are_sized_to_the_latin_beside_them(browser, at_app):  # noqa: F811
    site = LiveServer(at_app)
    try:
        page = browser.new_page()
        page.goto(f"{site.url}/login")
        size = page.evaluate(MEASURE)
        page.close()
    finally:
        site.stop()
    assert 1.1 * size["x"] <= size["lao"] <= size["caps"], size
