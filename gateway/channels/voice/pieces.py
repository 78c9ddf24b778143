"""A screen as a phone call: what to play, piece by piece, and how to read the keys.

Pure: no I/O. ``speak`` turns a ``Screen`` into ``Piece``s, each a recorded prompt
key with the words it stands for. A menu plays its options as pieces ("for", the
option's label, "press", the digit), so one recording of each serves every menu.
Dates, times and numbers are spoken from recorded pieces too (weekday, day, month,
hour, minute), as IVRs do. Text that cannot be recorded ahead (a session title, a
member's name) is a piece without a key: English can be read by the provider's
text-to-speech; Lao cannot, so ``flows check`` and ``prompts audit`` report it.
The TwiML and Africa's Talking XML are built from pieces in ``gateway/voice_xml.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from string import Formatter
from typing import Any

from babel.dates import format_date

from gateway.content.prompts import Catalog
from gateway.engine import Screen, Text

# Pieces for numbers and dates. Their recordings live beside the prompts' own:
# prompts/audio/<lang>/number.14.mp3, time.month.11.mp3, time.weekday.4.mp3 ...
PRESS, FOR, AT, HASH_AFTER, RECORD = "voice.press", "voice.for", "voice.at", "voice.then_hash", "voice.record"
HOURS, MINUTES = "voice.hours", "voice.minutes"  # "14 ໂມງ 30 ນາທີ"; empty in English
# Played before the English version of a screen not yet recorded in her language.
SORRY = "voice.sorry_english"
# Keys of live text recorded when it is created: live.session.<id>.title, live.poll.<code>.question ...
LIVE = "live."


@dataclass(frozen=True)
class Piece:
    key: str | None  # the recording to play; None when it cannot be recorded ahead
    text: str  # the words, for text-to-speech, the simulator and the recording script
    pause: bool = False  # a sentence ends here (text-to-speech reads a full stop)
    url: str | None = None  # a member's own recording (her name), played back as it is


@dataclass(frozen=True)
class Speech:
    pieces: tuple[Piece, ...]
    digits: int  # keys to collect: 0 (nothing, the call ends), 1, or 2 then "#"
    record: bool = False  # collect a recording instead of keys


def speak(screen: Screen, catalog: Catalog, lang: str) -> Speech:
    pieces: list[Piece] = []
    for text in (screen.notice, screen.header, screen.prompt):
        if text is not None:
            pieces += _sentence(say(text, catalog, lang))
    for option in screen.options:
        pieces += _word(FOR, catalog, lang)
        pieces += say(option.label, catalog, lang)
        pieces += _word(PRESS, catalog, lang)
        pieces += _sentence(number(int(option.key), lang) if option.key.isdigit() else [Piece(None, option.key)])
    if screen.final or screen.expects == "none":
        return Speech(tuple(pieces), 0)
    if screen.expects == "text" and screen.voice_input == "record":
        return Speech(tuple(pieces + _word(RECORD, catalog, lang)), 0, record=True)
    many = len(screen.options) > 9 or screen.expects in ("text", "choices")
    if many:
        pieces += _word(HASH_AFTER, catalog, lang)
    return Speech(tuple(pieces), 2 if many else 1)


def say(text: Text, catalog: Catalog, lang: str) -> list[Piece]:
    """A prompt with its variables as pieces. A template with placeholders is cut
    at each one: its literal runs are recorded as ``key@1``, ``key@2`` ...

    A prompt may have different words for the ear: ``<key>_voice`` ("say your name"
    where the screen says "type your name") is used on calls when it exists."""
    key = voice_key(text.key, catalog, lang)
    if key != text.key:
        text = Text(key, text.vars)
    template = catalog.template(lang, text.key)
    parts = list(Formatter().parse(template))
    if not any(name for _, name, _, _ in parts):
        return [Piece(text.key, template)] if template.strip() else []
    pieces: list[Piece] = []
    for index, (literal, name, _, _) in enumerate(parts, start=1):
        if _spoken(literal):
            pieces.append(Piece(f"{text.key}@{index}", literal.strip()))
        if name:
            pieces += value(text.vars.get(name), catalog, lang)
    return pieces


def voice_key(key: str, catalog: Catalog, lang: str) -> str:
    return f"{key}_voice" if catalog.has(lang, f"{key}_voice") or catalog.has("en", f"{key}_voice") else key


def value(raw: Any, catalog: Catalog, lang: str) -> list[Piece]:
    """One prompt variable (see ``gateway.engine.events``) as pieces."""
    if raw is None:
        return []
    if isinstance(raw, bool):
        return [Piece(None, str(raw))]
    if isinstance(raw, int):
        return number(raw, lang)
    if isinstance(raw, str) and raw.startswith(("https://", "http://", "sim-recording:")):
        return [Piece(None, "(her recording)", url=raw)]  # a name or organisation said on a call
    if isinstance(raw, dict):
        if "i18n" in raw and raw.get("audio"):  # live text with a recording of its own
            return [Piece(str(raw["audio"]), catalog.value(raw, lang))]
        if "text" in raw:
            return say(Text(str(raw["text"])), catalog, lang)
        if "list" in raw:
            return [piece for item in raw["list"] for piece in value(item, catalog, lang)]
        if "datetime" in raw:
            return moment(datetime.fromisoformat(raw["datetime"]), catalog, lang)
    return [Piece(None, catalog.value(raw, lang))]


def number(n: int, lang: str) -> list[Piece]:
    """0–99 are single recordings; larger numbers are read digit by digit."""
    if 0 <= n <= 99:
        return [Piece(f"number.{n}", str(n))]
    return [Piece(f"number.{d}", d) for d in str(abs(n))]


def moment(when: datetime, catalog: Catalog, lang: str) -> list[Piece]:
    """Weekday, day, month, "at", hour, minute: in local time, from recorded pieces.
    Lao says the hour of a 24-hour clock with ໂມງ and minutes with ນາທີ ("ເວລາ 14
    ໂມງ 30 ນາທີ"); English leaves those words out ("at 14 30")."""
    local = when.astimezone(catalog.zone)
    pieces = [
        Piece(f"time.weekday.{local.weekday()}", format_date(local, "EEEE", locale=lang)),
        *number(local.day, lang),
        Piece(f"time.month.{local.month}", format_date(local, "MMMM", locale=lang)),
    ]
    pieces += _word(AT, catalog, lang)
    pieces += number(local.hour, lang) + _word(HOURS, catalog, lang)
    if local.minute:
        pieces += number(local.minute, lang) + _word(MINUTES, catalog, lang)
    return pieces


def _word(key: str, catalog: Catalog, lang: str) -> list[Piece]:
    """A connecting word ("for", "press"); empty in a language that does not use it."""
    text = catalog.template(lang, key)
    return [Piece(key, text)] if text.strip() and text != key else []


def _sentence(pieces: list[Piece]) -> list[Piece]:
    if pieces:
        pieces[-1] = replace(pieces[-1], pause=True)
    return pieces


def _spoken(literal: str) -> bool:
    """Whether a run of template text has words in it (not just ": " or a newline)."""
    return any(ch.isalnum() for ch in literal)
