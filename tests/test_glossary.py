"""Lao prompts use the glossary's terms (docs/glossary.md), not the words it rules out."""

from gateway.config import PROJECT_ROOT
from gateway.content.glossary import avoided_words


def test_the_glossary_rules_out_the_words_the_review_found():
    avoided = avoided_words()
    for word in ("ທົດສອບຄວາມປອດໄພ", "ແກ້ໄຂໃໝ່", "ຍັງບໍ່ຖືກ", "ສຽງບີບ", "ລາກ່ອນ", "ກໍ່"):
        assert word in avoided, word


def test_lao_prompts_use_the_glossary_terms():
    text = (PROJECT_ROOT / "prompts" / "lo.yaml").read_text(encoding="utf-8")
    for word, instead in avoided_words().items():
        if word == "ສະໝັກ":
            continue  # the SMS keyword itself may be named
        found = [line.strip() for line in text.splitlines() if word in line and not line.lstrip().startswith("#")]
        assert not found, f"{word!r} in prompts/lo.yaml; the glossary says {instead!r}: {found}"
