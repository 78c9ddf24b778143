"""Reading what organisers write as whole documents: quizzes and surveys.

Both are YAML with a title and questions whose words are given per language
(``{lo: "…", en: "…"}``), optional dates and a session. Reading one collects its
texts by language, under keys such as ``surveys.<name>.q1.ask``, and the line
each came from, so every problem names the document's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath
from typing import Any, Mapping

import yaml

from gateway.content.flows import Problem, parse_yaml
from gateway.encoding import normalise_lao

NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass
class Written:
    """One document being read: its data, and the texts and lines found so far."""

    document: str
    name: str
    prefix: str  # the texts' keys start so: quizzes.<name>, surveys.<name>
    data: dict
    problems: list[Problem]
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int:
        """The line of a top-level key (or of the document's start)."""
        return getattr(self.data, "key_lines", {}).get(key, getattr(self.data, "line", 1))

    def words(self, value: Any, key: str, where: int) -> str:
        """Keep ``value``'s words (one per language) under ``key``; return ``key``."""
        if not isinstance(value, Mapping) or not value or not all(isinstance(v, (str, int)) for v in value.values()):
            self.problems.append(
                Problem.said(
                    f"{self.document}:{where}",
                    '%(what)s needs its words in each language, as {lo: "…", en: "…"}',
                    what=self.short(key),
                )
            )
            return key
        for lang, text in value.items():
            if not str(text).strip():  # an empty box: for a language being translated, its fallback
                continue
            self.texts.setdefault(str(lang), {})[key] = normalise_lao(str(text).strip())
        self.lines[key] = where
        return key

    def short(self, key: str) -> str:
        return key.removeprefix(self.prefix + ".")

    def date(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problems.append(Problem(f"{self.document}:{self.line(key)}", f"{key} is a date, as 2026-12-31"))
            return None

    def dates(self) -> tuple[date | None, date | None]:
        opens, closes = self.date("opens"), self.date("closes")
        if opens and closes and closes < opens:
            self.problems.append(Problem(f"{self.document}:{self.line('closes')}", "it closes before it opens"))
        return opens, closes

    def session(self) -> int | None:
        session = self.data.get("session")
        if session is not None and not (isinstance(session, int) and session > 0):
            self.problems.append(Problem(f"{self.document}:{self.line('session')}", "session is a session's number"))
        return session if isinstance(session, int) else None

    def missing_words(self, languages: list[str]) -> list[Problem]:
        """Every text, in every language given (those members are promised)."""
        keys = set().union(*self.texts.values()) if self.texts else set()
        return [
            Problem.said(
                f"{self.document}:{self.lines.get(key, 1)}",
                "%(what)s has no words in %(lang)s",
                what=self.short(key),
                lang=lang,
            )
            for lang in languages
            for key in sorted(keys - set(self.texts.get(lang, {})))
        ]


def open_document(document: str, body: str, problems: list[Problem], folder: str, what: str) -> Written | None:
    """Start reading ``body`` (document ``<folder>/<name>.yaml``, a ``what``: quiz, survey)."""
    name = PurePosixPath(document).stem
    try:
        data = parse_yaml(body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(f"{document}:{mark.line + 1 if mark else 1}", f"not valid YAML: {exc}"))
        return None
    if not NAME.match(name):
        problems.append(Problem(f"{document}:1", f"a {what}'s name is lower-case letters, digits and _"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(f"{document}:1", f"a {what} needs a title and questions"))
        return None
    return Written(document, name, f"{folder}.{name}", data, problems)
