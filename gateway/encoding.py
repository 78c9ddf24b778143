"""How a text is carried over GSM: which alphabet, how long it counts, how many SMS.

Facts (3GPP TS 23.038): GSM-7 fits 160 characters in one SMS or 153 per part once
split; a few characters (``^{}\\[~]|€`` and form feed) take two septets. Any
character outside GSM-7 forces UCS-2 for the whole message: 70 per SMS, 67 per part,
counted in UTF-16 code units (an emoji counts two). Lao is never GSM-7.

A USSD page is 160 octets: 182 GSM-7 characters, or 80 UCS-2 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` exists in the GSM-7 alphabet."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def encoding_of(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def length_in(text: str, encoding: str) -> int:
    """Length as the network counts it: septets for GSM-7, UTF-16 units for UCS-2."""
    if encoding == GSM7:
        return sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class SmsSize:
    encoding: str
    length: int
    segments: int


def sms_size(text: str) -> SmsSize:
    """Encoding, counted length and number of SMS segments for ``text``."""
    encoding = encoding_of(text)
    length = length_in(text, encoding)
    single, part = (160, 153) if encoding == GSM7 else (70, 67)
    if length <= single:
        segments = 1 if length else 0
    else:
        segments = -(-length // part)
    return SmsSize(encoding, length, segments)


# SARA AM (ຳ, U+0EB3) is one character. Typed on some keyboards, or copied from
# some fonts, it arrives as NIGGAHITA (ໍ, U+0ECD), then the tone mark, then SARA AA
# (າ, U+0EB2): it looks alike on a laptop but breaks on many handsets, and it does
# not match the same word typed the usual way. Unicode's NFC leaves it alone.
_DECOMPOSED_AM = re.compile("\u0ecd([\u0ec8-\u0ecb]?)\u0eb2")


def normalise_lao(text: str) -> str:
    """Lao text in one canonical form: SARA AM as one character, after its tone mark."""
    return _DECOMPOSED_AM.sub("\\1\u0eb3", text) if "\u0ecd" in text else text


_SUBSCRIPT_LO = str.maketrans({"\u0ebc": "\u0ea5"})  # ຼ (a subscript ລ) -> ລ


def fold_lao(text: str) -> str:
    """``text`` with Lao spelling variants folded together, for matching what a member
    types against a word (never for display): ໜ and ໝ and their older spellings ຫນ and
    ຫມ (NFKC splits the ligatures), the subscript ຼ and ຫລ's ລ, and SARA AM however it
    was typed. So ສະຫມັກ finds JOIN and ຊ່ວຍເຫລືອ finds HELP, as ສະໝັກ and ຊ່ວຍເຫຼືອ do."""
    # NFKC also splits ຳ into ໍ + າ; normalise_lao puts it back together, after.
    return normalise_lao(unicodedata.normalize("NFKC", text).translate(_SUBSCRIPT_LO))
