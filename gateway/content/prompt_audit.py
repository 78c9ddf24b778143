"""Which recordings a call can need, which are missing, and a script for the voice artist.

A call plays prompts as pieces (``gateway/channels/voice.py``): each prompt a flow
can show on a call, its literal runs when it has placeholders (``key@1`` ...), the
connecting words ("press"), and the numbers and names of days and months dates are
spoken from. ``needed`` lists them all per language with the words to read and
where they are used; ``missing`` keeps those with no file in ``prompts/audio``.
Placeholders filled at run time with free text (a session's title, a member's
name) cannot be recorded ahead: ``spoken_live`` lists them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from string import Formatter

from babel.dates import format_date

from gateway.channels.voice.pieces import (
    AT,
    FOR,
    HASH_AFTER,
    HOURS,
    MINUTES,
    PRESS,
    RECORD,
    SORRY,
    voice_key,
)
from gateway.content.prompts import Catalog
from gateway.content.recordings import Recordings
from gateway.engine.model import FlowBook, InputNode, MenuNode, MultiSelectNode, QuizQuestionNode

CALL_KEYS = (
    "common.too_many_tries",
    "validate.menu",
    "validate.number",
    "validate.choice",
    "validate.phone",
    "validate.date",
    "validate.choose_many",
    "quiz.correct",
    "quiz.wrong",
    "quiz.progress",
    "quiz.next",
    FOR,
    PRESS,
    AT,
    HOURS,
    MINUTES,
    HASH_AFTER,
    RECORD,
    "voice.goodbye",
    SORRY,
)
# Variables that are numbers or dates, spoken from recorded pieces; anything else is free text.
SPOKEN_FROM_PIECES = {
    "max",
    "min",
    "score",
    "total",
    "number",
    "answer",
    "when",
    "when_long",
    "kind",
    "province",
    "topics",
}
# On a call these hold her own recording, played back.
RECORDED_ON_CALLS = {"name", "organisation"}


@dataclass
class Needed:
    key: str
    language: str
    text: str
    where: set[str] = field(default_factory=set)
    number: int = 0  # what an organiser types to record it by phone (the script's first column)


@dataclass
class Audit:
    needed: list[Needed]
    missing: list[Needed]
    spoken_live: list[tuple[str, str, str]]  # (key, placeholder, where)


def audit(book: FlowBook, catalog: Catalog, library: Recordings) -> Audit:
    found: dict[tuple[str, str], Needed] = {}
    live: set[tuple[str, str, str]] = set()

    def need(lang: str, key: str, text: str, where: str) -> None:
        found.setdefault((lang, key), Needed(key, lang, text)).where.add(where)

    for lang in catalog.languages:
        for where, key in _prompt_uses(book):
            key = voice_key(key, catalog, lang)
            template = catalog.template(lang, key)
            parts = list(Formatter().parse(template))
            if not any(name for _, name, _, _ in parts):
                if template.strip():
                    need(lang, key, template, where)
                continue
            for index, (literal, name, _, _) in enumerate(parts, start=1):
                if any(ch.isalnum() for ch in literal):
                    need(lang, f"{key}@{index}", literal.strip(), where)
                if name and name not in SPOKEN_FROM_PIECES | RECORDED_ON_CALLS:
                    live.add((key, name, where))
        for key in sorted(k for k in catalog.texts.get("en", {}) if k.startswith("kind.")):
            need(lang, key, catalog.template(lang, key), "next_session: the kind of session")
        for n in range(100):
            need(lang, f"number.{n}", str(n), "numbers: option keys, scores, dates and times")
        day = datetime(2026, 11, 16)  # a Monday
        for weekday in range(7):
            when = day.replace(day=16 + weekday)
            need(lang, f"time.weekday.{weekday}", format_date(when, "EEEE", locale=lang), "dates")
        for month in range(1, 13):
            need(lang, f"time.month.{month}", format_date(datetime(2026, month, 1), "MMMM", locale=lang), "dates")
    # Numbered Lao first, then by key: the same flows and prompts give the same numbers,
    # so a printed script stays right until the prompts change.
    needed = sorted(found.values(), key=lambda n: (n.language != "lo", n.language, _urgent(n.key), n.key))
    for number, entry in enumerate(needed, start=1):
        entry.number = number
    missing = [n for n in needed if not library.has(n.language, n.key)]
    return Audit(needed, missing, sorted(live))


def coverage(result: Audit) -> dict[str, tuple[int, int]]:
    """Per language: (recorded, needed) prompts of the flows (live texts aside)."""
    totals: dict[str, list[int]] = {}
    missing = {(n.language, n.key) for n in result.missing}
    for entry in result.needed:
        counts = totals.setdefault(entry.language, [0, 0])
        counts[1] += 1
        counts[0] += (entry.language, entry.key) not in missing
    return {lang: (recorded, needed) for lang, (recorded, needed) in totals.items()}


def coverage_warning(result: Audit, lang: str = "lo") -> str | None:
    """What an operator should hear while calls are not all in ``lang``."""
    recorded, needed = coverage(result).get(lang, (0, 0))
    if not needed or recorded >= needed:
        return None
    return (
        f"voice: {recorded} of {needed} {lang} prompts recorded; calls play the other "
        f"{needed - recorded} screens in English. Record them in the dashboard (Voice prompts)."
    )


def _urgent(key: str) -> int:
    """The apology and the goodbye come first: with them, a call is never silent in Lao."""
    return 0 if key in ("voice.sorry_english", "voice.goodbye") else 1


def _prompt_uses(book: FlowBook):
    """(where, prompt key) for every prompt a call can play."""
    for flow in book.flows.values():
        for node in flow.nodes.values():
            where = f"{flow.name}:{node.id}"
            for key in node.prompt_keys():
                yield where, key
            if isinstance(node, (MenuNode, MultiSelectNode)) and node.options_from in book.lists:
                items = book.lists[node.options_from]
                for item in items.items:
                    yield where, items.label_key(item)
            if isinstance(node, QuizQuestionNode):
                yield where, node.explain
            if isinstance(node, InputNode) and node.voice == "digits":
                yield where, HASH_AFTER
    for key in CALL_KEYS:
        yield "(every call)", key


def write_script(result: Audit, path: Path, only_missing: bool = True) -> int:
    """The recording script: key, language, text to read, where it is used."""
    rows = result.missing if only_missing else result.needed
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "key", "language", "text", "used_in", "file"])
        for row in rows:
            writer.writerow(
                [
                    row.number,
                    row.key,
                    row.language,
                    row.text,
                    "; ".join(sorted(row.where)),
                    f"{row.language}/{row.key}.wav",
                ]
            )
    return len(rows)
