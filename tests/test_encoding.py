"""SMS encodings and segment counts, checked against hand-counted examples."""

import pytest

from gateway.encoding import GSM7, UCS2, length_in, sms_size
from gateway.engine.digits import fold_digits


@pytest.mark.parametrize(
    "text,encoding,length,segments",
    [
        ("Hello", GSM7, 5, 1),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),  # 153 + 8
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("€" * 80, GSM7, 160, 1),  # extension characters take two septets
        ("[x]", GSM7, 5, 1),
        ("ສະບາຍດີ", UCS2, 7, 1),
        ("ກ" * 70, UCS2, 70, 1),
        ("ກ" * 71, UCS2, 71, 2),  # 67 + 4
        ("ກ" * 150, UCS2, 150, 3),  # a 150-character Lao reminder is 3 segments
        ("Hi 👋", UCS2, 5, 1),  # the emoji is a surrogate pair: 2 units
        ("", GSM7, 0, 0),
    ],
)
def test_sms_size(text, encoding, length, segments):
    size = sms_size(text)
    assert (size.encoding, size.length, size.segments) == (encoding, length, segments)


def test_a_single_lao_character_forces_ucs2_for_the_whole_text():
    assert sms_size("Reminder: hangout ມື້ອື່ນ").encoding == UCS2
    assert length_in("abc", UCS2) == 3


def test_regional_digits_fold_to_ascii():
    assert fold_digits("໐໑໒໓໔໕໖໗໘໙ ๐๑๒ ០១២ ၀၁၂ ０１") == "0123456789 012 012 012 01"
    assert fold_digits("ກ1") == "ກ1"


def test_no_prompt_holds_a_decomposed_sara_am():
    """ສ່ຳ must be ສ + ່ + ຳ (U+0EB3), not ສ + ໍ + ່ + າ: the latter renders broken on
    many handsets and does not match the same word typed the usual way."""
    import re

    from gateway.config import PROJECT_ROOT

    decomposed = re.compile("\u0ecd[\u0ec8-\u0ecb]?\u0eb2")
    for path in sorted((PROJECT_ROOT / "prompts").glob("*.yaml")) + sorted((PROJECT_ROOT / "flows").glob("*.yaml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not decomposed.search(line), f"{path.name}:{number}: decomposed SARA AM"


def test_lao_from_organisers_is_normalised_to_one_form():
    from gateway.encoding import normalise_lao
    from gateway.messaging.broadcasts import check_texts

    typed = "ສ\u0ecd\u0ec8\u0eb2ຄັນ ແລະ ນ\u0ecd\u0eb2"  # ໍ + tone + າ, and ໍ + າ
    assert normalise_lao(typed) == "ສ່ຳຄັນ ແລະ ນຳ"
    assert check_texts({"lo": typed}, ["lo", "en"])["lo"] == "ສ່ຳຄັນ ແລະ ນຳ"
    assert normalise_lao("ສຳຄັນ") == "ສຳຄັນ"  # already canonical: unchanged


def test_lao_spelling_variants_find_the_same_keyword_and_poll_answer():
    """The Lao review (K1): older keyboards write ໝ as ຫມ and ຼ as ລ, and SARA AM arrives
    decomposed; a member who types them means the same word."""
    from gateway.channels.sms.keywords import match
    from gateway.polls.answer import normalise

    assert match("ສະຫມັກ") == match("ສະໝັກ") == "join"
    assert match("ຊ່ວຍເຫລືອ") == match("ຊ່ວຍເຫຼືອ") == "help"
    assert match("ຍົກເລີກ") == "stop"
    assert normalise("ນ\u0ecd\u0ec9\u0eb2ສະອາດ") == normalise("ນ້ຳສະອາດ")
    assert match("ສະໝັກແລ້ວບໍ") is None  # a sentence is not a keyword
