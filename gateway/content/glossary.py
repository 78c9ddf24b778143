"""The glossary's "not" words (``docs/glossary.md``): terms Lao texts must not use.

The table's fourth column names words the Lao review ruled out; each maps to the
term to use instead. Publishing refuses a Lao text that uses one, and the wording
editor flags it as she types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from gateway.config import PROJECT_ROOT

GLOSSARY = PROJECT_ROOT / "docs" / "glossary.md"
LANGUAGE = "lo"  # the language the glossary is written for (a glossary per language would key on its name)
# Words that may appear although the glossary rules them out elsewhere: the SMS
# keyword ສະໝັກ is named where the help text tells her what to send.
ALLOWED = {"ສະໝັກ"}
_LAO_WORD = re.compile(r"[\u0e80-\u0eff][\u0e80-\u0eff +-]*")


@dataclass(frozen=True)
class Avoided:
    word: str
    instead: str


@lru_cache(maxsize=4)
def avoided_words(path: Path = GLOSSARY) -> dict[str, str]:
    """Each word of the glossary's "not" column -> the term to use instead."""
    avoided = {}
    if not path.exists():
        return avoided
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Lao", "---"):
            continue
        for word in _LAO_WORD.findall(cells[3]):
            word = word.strip(" +")
            if len(word) > 1 and "+" not in word:
                avoided[word] = cells[0]
    return avoided


def flags(text: str) -> list[Avoided]:
    """The ruled-out words ``text`` uses, with what to say instead."""
    return [Avoided(word, instead) for word, instead in avoided_words().items() if word not in ALLOWED and word in text]


def catalog_flags(texts: Mapping[str, str]) -> dict[str, list[Avoided]]:
    """Key -> ruled-out words, for a Lao catalog's flattened texts."""
    found = {key: flags(text) for key, text in texts.items()}
    return {key: words for key, words in found.items() if words}
