"""USSD pagination: every page fits, prose flows on, options stay whole."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.channels.ussd.pages import PageLimits, paginate
from gateway.encoding import encoding_of, length_in

LIMITS = PageLimits()


def fits(page: str, limits: PageLimits = LIMITS) -> bool:
    encoding = encoding_of(page)
    return length_in(page, encoding) <= (limits.gsm7 if encoding == "GSM-7" else limits.ucs2)


def test_short_screens_are_one_page():
    assert paginate(["Hello", "1. Yes", "2. No"], LIMITS, "More", "Back") == ["Hello\n1. Yes\n2. No"]


def test_lao_pages_fit_80_and_carry_localised_footers():
    lines = ["ທ່ານຢູ່ແຂວງໃດ?"] + [f"{n}. ແຂວງທົດລອງທີ {n}" for n in range(1, 19)]
    pages = paginate(lines, LIMITS, "ໜ້າຕໍ່ໄປ", "ກັບຄືນ")
    assert len(pages) > 3
    assert all(fits(p) and len(p) <= 80 for p in pages)
    assert pages[0].endswith("98 ໜ້າຕໍ່ໄປ") and "0 ກັບຄືນ" not in pages[0]
    assert pages[-1].endswith("0 ກັບຄືນ") and "98" not in pages[-1]
    options = [
        line for page in pages for line in page.splitlines() if line[0].isdigit() and not line.startswith(("98 ", "0 "))
    ]
    assert options == lines[1:]  # every option once, in order, never split


def test_gsm_pages_use_the_182_limit():
    lines = [f"{n}. Province number {n}" for n in range(1, 19)]
    pages = paginate(lines, LIMITS, "More", "Back")
    assert all(fits(p) for p in pages) and max(len(p) for p in pages) > 80


def test_long_lao_prose_is_cut_at_spaces_not_inside_syllables():
    prose = "ພວກເຮົາແຈ້ງຂ່າວການພົບປະ ຝຶກອົບຮົມ ແລະ ກອງປະຊຸມ ໃຫ້ສະມາຊິກເຄືອຂ່າຍ ກົດລະຫັດນີ້ໄດ້ທຸກເວລາ"
    pages = paginate([prose, "1. ສືບຕໍ່"], LIMITS, "ໜ້າຕໍ່ໄປ", "ກັບຄືນ")
    text = [line for p in pages for line in p.splitlines() if not line.startswith(("98 ", "0 "))]
    assert " ".join(text[:-1]) == prose


def test_a_final_screen_does_not_offer_back_on_its_last_page():
    pages = paginate(["ກ" * 70, "ຂ" * 70], LIMITS, "ໜ້າຕໍ່ໄປ", "ກັບຄືນ", last_has_back=False)
    assert "ກັບຄືນ" not in pages[-1]


# Lines as Lao is written: syllables of a consonant with optional vowel and tone
# marks, words of syllables, spaces between phrases (marks never follow a space).
syllables = st.builds(
    lambda c, v, t: c + v + t,
    st.sampled_from("ກຂຄງຈສຊຍດຕຖທນບປຜຝພຟມຢຣລວຫອຮ"),
    st.sampled_from(["", "ະ", "າ", "ິ", "ີ", "ຶ", "ື", "ຸ", "ູ"]),
    st.sampled_from(["", "່", "້"]),
)
lao_words = st.lists(syllables, min_size=1, max_size=8).map("".join)
words = st.lists(
    st.one_of(lao_words, st.sampled_from(["SMS", "Noy", "2030", "meet.jit.si/x"])), min_size=1, max_size=20
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=12), st.lists(words, max_size=10))
def test_any_screen_paginates_into_pages_that_fit(prose, options):
    lines = prose + [f"{n}. {o[:40]}" for n, o in enumerate(options, start=1)]
    pages = paginate(lines, LIMITS, "ໜ້າຕໍ່ໄປ", "ກັບຄືນ")
    assert all(fits(page) for page in pages)
    for page in pages:  # no page starts with a combining mark cut from its letter
        assert unicodedata.category(page[0])[0] != "M"
