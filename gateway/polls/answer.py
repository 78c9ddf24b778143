"""Reading a member's text as an answer to a poll. Pure: no database, no I/O.

Members answer ``2``, ``໒`` (or Thai, Khmer, Myanmar digits), ``b``, the
option's word in Lao or English, and may put the poll's code first (``P4 2``)
when several polls are open for them. ``split`` separates the code; ``choose``
turns the rest into an option number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from gateway.encoding import fold_lao
from gateway.engine.digits import fold_digits

CODE_PATTERN = re.compile(r"^[A-Z]{1,3}[0-9]{1,4}$")
# "P4 2", "p4-b", "P4: clean water", "P4.2"; the code needs a separator before a digit
# answer ("P42" is a code), but not before a letter or a word ("P4b" is fine).
_PREFIXED = re.compile(r"^([a-z]{1,3}[0-9]{1,4})(?:[\s:.,\-#]+(.+)|([^\W\d_].*))$", re.IGNORECASE)
_TRIM = " \t\r\n.,!?;:()[]\"'#-"
# Shorter words would match too much by accident ("a" in "Clean water").
MIN_WORD = 3


@dataclass(frozen=True)
class Answer:
    code: str | None  # upper case, as members were shown it
    body: str  # what they answered, digits folded, trimmed


def normalise(text: str) -> str:
    return fold_lao(fold_digits(text)).strip(_TRIM).casefold()


def split(text: str) -> Answer:
    """Separate a leading poll code from the answer."""
    cleaned = normalise(text)
    match = _PREFIXED.match(cleaned)
    if match:
        body = (match.group(2) or match.group(3) or "").strip(_TRIM)
        if body:
            return Answer(match.group(1).upper(), body)
    return Answer(None, cleaned)


def valid_code(code: str) -> bool:
    return bool(CODE_PATTERN.match(code))


def choose(body: str, options: Sequence[Mapping[str, str]]) -> int | None:
    """The option number (1-based) ``body`` picks, or None.

    A number or a letter picks by position; otherwise the text must be an
    option's label in any language, or a word (``MIN_WORD`` letters or more)
    found in exactly one option's labels.
    """
    body = normalise(body)
    count = len(options)
    if body.isascii() and body.isdigit():
        number = int(body)
        return number if 1 <= number <= count else None
    if len(body) == 1 and "a" <= body <= "z":
        number = ord(body) - ord("a") + 1
        return number if number <= count else None
    labels = [[normalise(text) for text in option.values() if text] for option in options]
    exact = [n for n, texts in enumerate(labels, start=1) if body in texts]
    if len(exact) == 1:
        return exact[0]
    if len(body) < MIN_WORD:
        return None
    # Lao is written without spaces between words, so look for the text inside labels.
    partial = [n for n, texts in enumerate(labels, start=1) if any(body in text for text in texts)]
    return partial[0] if len(partial) == 1 else None


def letters(count: int) -> str:
    """``a``–``c`` for three options, for the help text."""
    return f"a-{chr(ord('a') + count - 1)}" if count > 1 else "a"
