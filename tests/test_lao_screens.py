"""Every shipped screen, in every language, fits a USSD page once paginated.
Lao is UCS-2, so every Lao page must be 80 characters or fewer."""

from pathlib import Path

import pytest
import yaml

from gateway.channels.actions import ACTIONS
from gateway.config import PROJECT_ROOT
from gateway.content.flowcheck import SAMPLE_VARS, check, page_report, sms_report
from gateway.encoding import sms_size
from gateway.content.edition import Edition, read_folders
from gateway.engine import Text

# The shipped content as an install publishes it first (with the quiz list it makes).
SHIPPED = Edition.build(1, read_folders(PROJECT_ROOT / "flows", PROJECT_ROOT / "prompts"), "Asia/Vientiane")
CATALOG, BOOK = SHIPPED.catalog, SHIPPED.book


def test_shipped_flows_pass_the_checker():
    assert check(BOOK, CATALOG, ACTIONS.names()) == []


@pytest.mark.parametrize(
    "where,lang,pages", list(page_report(BOOK, CATALOG)), ids=lambda value: value if isinstance(value, str) else ""
)
def test_every_page_fits(where, lang, pages):
    limit = 80 if lang == "lo" else 182
    for page in pages:
        assert len(page) <= limit, f"{where} [{lang}]: {len(page)} chars\n{page}"


def test_every_golden_lao_reply_fits_80_characters():
    for path in sorted((Path(__file__).parent / "cases").glob("*.yaml")):
        for hop in yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]:
            page = hop["reply"][4:]
            if any("\u0e80" <= ch <= "\u0eff" for ch in page):
                assert len(page) <= 80, f"{path.name}: {page}"


@pytest.mark.parametrize(
    "where,lang,text",
    list(sms_report(BOOK, CATALOG)),
    ids=lambda value: value if isinstance(value, str) and ":" in value else "",
)
def test_every_conversational_sms_fits_two_segments(where, lang, text):
    """A Lao text is UCS-2: two segments are 134 characters. Lists are sent once per
    question (topics are chosen in one answer), never again after each choice."""
    assert sms_size(text).segments <= 2, f"{where} [{lang}]: {sms_size(text)}\n{text}"


@pytest.mark.parametrize(
    "key", ["sms.help", "sms.stopped", "sms.started", "sms.register_first", "poll.closed", "next_session.joining"]
)
def test_keyword_replies_fit_two_segments(key):
    for lang in CATALOG.languages:
        text = CATALOG.render(Text(key, SAMPLE_VARS), lang)
        assert sms_size(text).segments <= 2, f"{key} [{lang}]: {sms_size(text)}\n{text}"


def test_lao_and_english_catalogs_have_the_same_keys():
    """Every screen's key is in both. A ``_voice`` variant (other words for the ear)
    may be in one language only: Lao needs "ບໍ່ຍິນຍອມ" where a call would otherwise say
    "ບໍ່ ກົດ 2" ("don't press 2"); English says "No" on calls as on screens, and its
    recording stays that of ``register.consent_no``."""

    def screens(lang):
        return {key for key in CATALOG.texts[lang] if not key.endswith("_voice")}

    assert screens("lo") == screens("en")
    for lang in ("lo", "en"):
        for key in CATALOG.texts[lang]:
            if key.endswith("_voice"):
                assert key[: -len("_voice")] in CATALOG.texts[lang], f"{lang}: {key} has no screen key"
