"""Digits typed on handsets sold in the Mekong region, folded to ASCII.

A Lao keypad in Lao mode sends ໐–໙ (U+0ED0–U+0ED9); Thai, Khmer and Myanmar
handsets do the same with their own digits. Members mean 0–9 by them, so every
input is folded before the engine sees it.
"""

from __future__ import annotations

_ZEROS = {
    0x0ED0: "Lao",
    0x0E50: "Thai",
    0x17E0: "Khmer",
    0x1040: "Myanmar",
    0xFF10: "fullwidth",
}

DIGIT_MAP: dict[int, str] = {zero + offset: str(offset) for zero in _ZEROS for offset in range(10)}


def fold_digits(text: str) -> str:
    """Return ``text`` with regional digits replaced by ASCII 0–9."""
    return text.translate(DIGIT_MAP)
