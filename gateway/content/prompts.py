"""Prompt catalogs: ``prompts/<lang>.yaml`` maps keys to texts with {placeholders}.

A key missing in the member's language falls back to the catalog its
``catalog.fallback`` names, and so on, then to English (the shipped root), then
to the key itself, so a gap shows up as a visible key rather than an error
mid-session (``outreach flows check`` reports every gap before that can happen).
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime
from pathlib import Path, PurePosixPath
from string import Formatter
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_date, format_datetime

from gateway.content.flows import parse_yaml
from gateway.encoding import normalise_lao
from gateway.engine.events import Text
from gateway.errors import PromptError

FALLBACK_LANGUAGE = "en"  # the shipped catalog every other falls back to in the end
log = logging.getLogger(__name__)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = normalise_lao(str(value))  # one canonical form for every prompt
    return flat


class _Blanks(dict):
    """Placeholders with no value render as the catalog's ``common.missing``."""

    def __init__(self, values, blank):
        super().__init__(values)
        self.blank = blank

    def __missing__(self, key):
        return self.blank


class _Fitting(Formatter):
    """``{title:.30}`` cuts a value to 30 characters, at a letter's edge, with "…".

    Prompts use it for what members and organisers type (a name, a session title)
    where the screen has room for only so much: the options must stay on page 1."""

    def format_field(self, value: Any, spec: str) -> str:
        if spec.startswith(".") and spec[1:].isdigit():
            return fit(str(value), int(spec[1:]))
        return super().format_field(value, spec)


_FITTING = _Fitting()


def fit(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters. A cut one ends in "…" (or "..." in
    ASCII text, where "…" would turn a GSM-7 message into UCS-2). A cut never falls
    between a Lao letter and its vowel or tone marks."""
    if len(text) <= room:
        return text
    ellipsis = "..." if text.isascii() else "…"
    cut = max(room - len(ellipsis), 1)
    while cut > 1 and unicodedata.category(text[cut])[0] == "M":
        cut -= 1  # the mark belongs to the letter before it: cut before both
    if text[cut - 1] in "\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4":
        cut -= 1  # a Lao vowel written before its letter goes with that letter
    return text[:cut].rstrip() + ellipsis


class Catalog:
    def __init__(self, texts: Mapping[str, Mapping[str, str]], timezone: str = "Asia/Vientiane"):
        self.texts = {lang: dict(entries) for lang, entries in texts.items()}
        self.zone = ZoneInfo(timezone)
        # Where each language looks for a text it lacks, in order (itself excluded).
        self._chains = {lang: self._chain(lang) for lang in self.texts}
        # The languages that must have every text (``content.languages.offer`` narrows
        # it to the ones the content promises members); others are translations under way.
        self.promised: tuple[str, ...] = tuple(self.texts)
        # The languages members can choose (promised, or complete); the screen checks
        # draw these. ``content.languages.offer`` sets it.
        self.chosen: tuple[str, ...] = tuple(self.texts)
        self._root = [FALLBACK_LANGUAGE]

    def _chain(self, lang: str) -> list[str]:
        chain, seen = [], {lang}
        step = self.fallback(lang)
        while step and step in self.texts and step not in seen:
            chain.append(step)
            seen.add(step)
            step = self.fallback(step)
        if FALLBACK_LANGUAGE not in seen:
            chain.append(FALLBACK_LANGUAGE)
        return chain

    def fallback(self, lang: str) -> str | None:
        """The language ``lang``'s catalog falls back to (its ``catalog.fallback``)."""
        return self.texts.get(lang, {}).get("catalog.fallback") or None

    @classmethod
    def load(cls, folder: Path | str, timezone: str = "Asia/Vientiane") -> "Catalog":
        return cls.from_texts(
            {str(path): path.read_text(encoding="utf-8") for path in sorted(Path(folder).glob("*.yaml"))},
            timezone,
            str(folder),
        )

    @classmethod
    def from_texts(
        cls, documents: Mapping[str, str], timezone: str = "Asia/Vientiane", where: str = "prompts"
    ) -> "Catalog":
        """A catalog from YAML texts named ``<anything>/<lang>.yaml`` (files, or a
        version's documents)."""
        texts = {}
        for name, body in sorted(documents.items()):
            try:
                data = parse_yaml(body) or {}
            except yaml.YAMLError as exc:
                raise PromptError(f"{name}: not valid YAML: {exc}") from exc
            if not isinstance(data, Mapping):
                raise PromptError(f"{name}:1: a catalog maps keys to texts")
            texts[PurePosixPath(name).stem] = _flatten(data)
        if FALLBACK_LANGUAGE not in texts:
            raise PromptError(f"{where}: needs {FALLBACK_LANGUAGE}.yaml, the fallback catalog")
        return cls(texts, timezone)

    @property
    def languages(self) -> list[str]:
        return list(self.texts)

    def name(self, lang: str) -> str:
        """The language's name in its own script (its ``catalog.name``), or its code."""
        return self.texts.get(lang, {}).get("catalog.name") or lang

    def has(self, lang: str, key: str) -> bool:
        return key in self.texts.get(lang, {})

    def template(self, lang: str, key: str) -> str:
        found = self.texts.get(lang, {}).get(key)
        if found is not None:
            return found
        for other in self._chains.get(lang, self._root):
            found = self.texts[other].get(key)
            if found is not None:
                return found
        log.warning("prompt key %r missing in every catalog", key)
        return key

    def render(self, text: Text, lang: str) -> str:
        template = self.template(lang, text.key)
        if not text.vars or "{" not in template:
            return template
        values = {name: self.value(value, lang) for name, value in text.vars.items()}
        blank = self.template(lang, "common.missing")
        try:
            if ":." in template:
                return _FITTING.vformat(template, (), _Blanks(values, blank))
            return template.format_map(_Blanks(values, blank))
        except (ValueError, IndexError, AttributeError, KeyError) as exc:
            log.error("prompt %r in %r is malformed: %s", text.key, lang, exc)
            return template

    def value(self, value: Any, lang: str) -> str:
        """Turn one prompt variable into text (see ``gateway.engine.events``)."""
        if value is None:
            return self.template(lang, "common.missing")
        if isinstance(value, Mapping):
            if "text" in value:
                return self.template(lang, str(value["text"]))
            if "list" in value:
                return ", ".join(self.value(v, lang) for v in value["list"])
            if "i18n" in value:
                texts = value["i18n"]
                return str(texts.get(lang) or texts.get(FALLBACK_LANGUAGE) or next(iter(texts.values()), ""))
            if "datetime" in value:
                return self.format_moment(datetime.fromisoformat(value["datetime"]), lang, value.get("style"))
        return str(value)

    def format_moment(self, when: datetime, lang: str, style: str | None = None) -> str:
        pattern = self.template(lang, "format.datetime_short" if style == "short" else "format.datetime")
        return format_datetime(when, pattern, tzinfo=self.zone, locale=lang)

    def format_day(self, when: datetime, lang: str) -> str:
        """A date alone, for reports: "21 Nov 2026", "21 ພ.ຈ. 2026"."""
        return format_date(when.astimezone(self.zone), "medium", locale=lang)

    def room(self, lang: str, key: str, placeholder: str) -> int | None:
        """How many characters prompt ``key`` shows of ``placeholder`` (``{title:.22}``:
        22), or None when it shows it whole."""
        for _, field, spec, _ in Formatter().parse(self.template(lang, key)):
            if field == placeholder and spec and spec.startswith(".") and spec[1:].isdigit():
                return int(spec[1:])
        return None

    def placeholders(self, lang: str, key: str) -> set[str]:
        """Placeholder names a template uses (for checks)."""
        return {field for _, field, _, _ in Formatter().parse(self.template(lang, key)) if field}
