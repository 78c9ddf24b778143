"""The wording editor's model: where each text is used, how a text measures on
the screens that show it, and changing texts in a catalog document.

Texts are changed in the YAML document with ruamel.yaml's round trip, which keeps
every comment, the order of keys and the quoting: an export after an edit differs
from the one before by the edited lines only, so a diff reads as what she changed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from gateway.channels.sms.render import render as render_sms
from gateway.channels.ussd.pages import PageLimits
from gateway.content import glossary
from gateway.content.edition import Edition
from gateway.content.flowcheck import (
    first_page_problems,
    sample_screens,
    ussd_pages,
)
from gateway.content.flows import Problem
from gateway.content.prompts import Catalog
from gateway.encoding import encoding_of, length_in, normalise_lao, sms_size
from gateway.content.usage import uses

MAX_TEXT = 1000  # characters in one text: more than any screen or call shows
VOICE = "_voice"  # a key's variant for calls, where a call must say it differently


# ------------------------------------------------------------------ measuring


@dataclass
class ScreenMeasure:
    """One screen showing the text, drawn with long sample values."""

    where: str
    pages: list[str]
    encoding: str
    first_page: int  # characters on the first page, counted as the network counts them
    limit: int
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Measure:
    key: str
    language: str
    text: str
    screens: list[ScreenMeasure]
    sms: list[tuple[str, int, str]]  # (where, parts, encoding) for each SMS that carries it
    flags: list[glossary.Avoided]
    too_long: bool = False

    @property
    def fits(self) -> bool:
        return not self.too_long and not any(s.problems for s in self.screens)


def measure(edition: Edition, key: str, lang: str, text: str, limits: PageLimits = PageLimits()) -> Measure:
    """How ``text`` as ``key`` in ``lang`` fits every screen that shows it: the USSD
    pages (80 UCS-2 or 182 GSM-7 characters with the options they carry), whether the
    options start on page 1, and the SMS parts where a text conversation sends it."""
    text = normalise_lao(text)
    catalog = with_text(edition.catalog, lang, key, text)
    screens, sms = [], []
    for use in uses(edition.book).get(key, []):
        flow = edition.book.flows.get(use.flow)
        node = flow.nodes.get(use.node) if flow else None
        if node is None:
            continue
        for screen in sample_screens(edition.book, node, lang)[:2]:
            pages = ussd_pages(screen, catalog, lang, limits)
            if not _shows(pages, text):
                continue  # a question's wrong-answer screen shows its why, not the question
            if "ussd" in use.channels:
                encoding = encoding_of("".join(pages))
                limit = limits.gsm7 if encoding == "GSM-7" else limits.ucs2
                screens.append(
                    ScreenMeasure(
                        str(use),
                        pages,
                        encoding,
                        length_in(pages[0], encoding),
                        limit,
                        first_page_problems(edition.book, node, lang, screen, pages),
                    )
                )
            if "sms" in use.channels:
                size = sms_size(render_sms(screen, catalog, lang))
                sms.append((str(use), size.segments, size.encoding))
    return Measure(
        key,
        lang,
        text,
        screens,
        sms,
        glossary.flags(text) if lang == glossary.LANGUAGE else [],
        too_long=len(text) > MAX_TEXT,
    )


def _shows(pages: list[str], text: str) -> bool:
    """Whether the text (its start, cut as a narrow screen may cut it) is on the pages."""
    start = text.split("{", 1)[0].strip()[:12]
    return not start or start in "\n".join(pages)


def with_text(catalog: Catalog, lang: str, key: str, text: str) -> Catalog:
    texts = {code: dict(entries) for code, entries in catalog.texts.items()}
    texts.setdefault(lang, {})[key] = normalise_lao(text)
    copy = Catalog(texts)
    copy.zone = catalog.zone
    return copy


# ------------------------------------------------------------------ changing


def _yaml() -> YAML:
    yaml = YAML(typ="rt")  # round trip; only safe types are built
    yaml.preserve_quotes = True
    yaml.width = 10**6  # never fold a long Lao line
    yaml.allow_unicode = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def set_texts(document: str, changes: Mapping[str, str]) -> str:
    """``document`` (a catalog's YAML) with each key of ``changes`` set to its text;
    keys it lacks are added in their group. Everything else is left as it was."""
    yaml = _yaml()
    data = yaml.load(document) if document.strip() else None
    if data is None:
        data = CommentedMap()
    for key, text in changes.items():
        node = data
        *groups, leaf = key.split(".")
        for group in groups:
            if not isinstance(node.get(group), dict):
                node[group] = CommentedMap()
            node = node[group]
        node[leaf] = DoubleQuotedScalarString(normalise_lao(text))
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def apply(documents: Mapping[str, str], changes: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """``documents`` with each (language, key, text) of ``changes`` written in."""
    by_language: dict[str, dict[str, str]] = {}
    for lang, key, text in changes:
        by_language.setdefault(lang, {})[key] = text
    out = dict(documents)
    for lang, texts in by_language.items():
        name = f"prompts/{lang}.yaml"
        out[name] = set_texts(out.get(name, ""), texts)
    return out


def flatten(documents: Mapping[str, str], lang: str) -> dict[str, str]:
    """Key -> text of one language's catalog in ``documents`` (empty when it has none)."""
    name = f"prompts/{lang}.yaml"
    if name not in documents:
        return {}
    return Catalog.from_texts(
        {name: documents[name], "prompts/en.yaml": documents.get("prompts/en.yaml", "")}
    ).texts.get(lang, {})
