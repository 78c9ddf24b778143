"""USSD rendering: screens into pages that fit one handset screen.

A page is 160 octets: 182 GSM-7 characters, or 80 when any character needs UCS-2
(Lao always does). Longer screens are split into pages that end with localised
"98 More" and "0 Back" lines; ``98`` and ``0`` are then navigation, not answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from dataclasses import dataclass

from gateway.encoding import GSM7, encoding_of, length_in

MORE_KEY = "98"
BACK_KEY = "0"

# Lao vowels written before their consonant; a page must not end just after one.
_LEADING_VOWELS = set("\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")
_OPTION = re.compile(r"^\d+\.")
# Below this much free space, a page ends rather than start a sliver of the next line.
MIN_FILL = 16


@dataclass(frozen=True)
class PageLimits:
    gsm7: int = 182
    ucs2: int = 80


def paginate(
    lines: list[str], limits: PageLimits, more_label: str, back_label: str, last_has_back: bool = True
) -> list[str]:
    """Split ``lines`` into pages that each fit one USSD screen, footers included.

    Prose flows on from page to page; an option line ("3. Bokeo") is never split.
    ``last_has_back`` is False for a final (END) screen: the session is over by
    the time its last page shows, so offering "0 Back" there would be a lie.
    """
    more, back = f"{MORE_KEY} {more_label}", f"{BACK_KEY} {back_label}"
    whole = "\n".join(lines)
    encoding = encoding_of(whole + more + back)
    limit = limits.gsm7 if encoding == GSM7 else limits.ucs2

    def size(parts: list[str]) -> int:
        return length_in("\n".join(parts), encoding)

    if size(lines) <= limit:
        return [whole]
    room = limit - size(["", more, back])  # what one line may take beside both footers
    if room < 1:
        raise ValueError(f"page limit {limit} leaves no room beside the footers")
    pieces = deque(piece for line in lines for piece in split_line(line, room, encoding))
    pages: list[str] = []
    while pieces:
        tail = list(pieces) + ([back] if pages and last_has_back else [])
        if size(tail) <= limit:
            pages.append("\n".join(tail))
            break
        footer = [more] + ([back] if pages else [])
        page: list[str] = []
        while pieces and size(page + [pieces[0]] + footer) <= limit:
            if (
                page
                and not any(map(_is_option, page))
                and _is_option(pieces[0])
                and _options_fit_fresh_page(page, list(pieces), size, limit, more, back, footer)
            ):
                break  # the options fit together on the next page: keep them together
            page.append(pieces.popleft())
        free = limit - size(page + [""] + footer)
        if pieces and free >= MIN_FILL and not _is_option(pieces[0]):
            cut = pieces[0].rfind(" ", 0, _fit(pieces[0], free, encoding) + 1)
            if cut > 0:  # fill the page only at a space: Lao words have no other safe cut
                page.append(pieces[0][:cut].rstrip())
                pieces[0] = pieces[0][cut:].lstrip()
        if not page:  # cannot happen with room >= 1, but never loop forever
            page.append(pieces.popleft())
        pages.append("\n".join(page + footer))
    return pages


def _is_option(line: str) -> bool:
    return bool(_OPTION.match(line))


def _options_fit_fresh_page(page, pending, size, limit, more, back, footer) -> bool:
    """True when the option lines from here on would not all fit on this page,
    but would all fit on one page of their own."""
    options = [line for line in pending if _is_option(line)]
    if len(options) != len(pending):
        return False
    if size(page + options + [back] * (len(footer) > 1)) <= limit:
        return False
    return size(options + [back]) <= limit


def split_line(line: str, room: int, encoding: str) -> list[str]:
    """Cut a line that is longer than ``room`` at spaces, or between Lao syllables."""
    out = []
    while length_in(line, encoding) > room:
        cut = _cut_point(line, room, encoding)
        out.append(line[:cut].rstrip())
        line = line[cut:].lstrip()
    if line:
        out.append(line)
    return out


def _fit(line: str, room: int, encoding: str) -> int:
    """How many characters of ``line`` fit in ``room``."""
    fit = 0
    while fit < len(line) and length_in(line[: fit + 1], encoding) <= room:
        fit += 1
    return fit


def _cut_point(line: str, room: int, encoding: str) -> int:
    fit = _fit(line, room, encoding)
    space = line.rfind(" ", 0, fit + 1)
    if space > 0:
        return space
    cut = fit
    # Never split a base letter from its vowel or tone marks, or a leading vowel from its letter.
    while cut > 1 and (unicodedata.category(line[cut])[0] == "M" or line[cut - 1] in _LEADING_VOWELS):
        cut -= 1
    return max(cut, 1)


def reply(page: str, final: bool) -> str:
    return f"{'END' if final else 'CON'} {page}"
