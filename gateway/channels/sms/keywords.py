"""SMS keywords in English and Lao. Case, spaces and closing punctuation are ignored.

A keyword is the whole message: "stop" opts out, "please stop calling me" does not
(it goes to the conversation or gets the help text), as carriers expect.
"""

from __future__ import annotations

import unicodedata

KEYWORDS: dict[str, tuple[str, ...]] = {
    "join": ("JOIN", "REGISTER", "ສະໝັກ", "ລົງທະບຽນ"),
    "next": ("NEXT", "ຕໍ່ໄປ"),
    "quiz": ("QUIZ", "ທົດສອບ"),
    "help": ("HELP", "INFO", "ຊ່ວຍ", "ຊ່ວຍເຫຼືອ"),
    "lang": ("LANG", "LANGUAGE", "ພາສາ"),
    # Twilio and carriers also treat these English words as STOP; so do we.
    "stop": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ຢຸດ"),
    "start": ("START", "UNSTOP", "ເລີ່ມ"),
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(ch for ch in text if not ch.isspace()).rstrip(".!?;:,")


_LOOKUP = {_fold(word): keyword for keyword, words in KEYWORDS.items() for word in words}


def match(text: str) -> str | None:
    """The keyword ``text`` is, or None."""
    if len(text) > 40:
        return None
    return _LOOKUP.get(_fold(text))
