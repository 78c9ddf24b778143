"""What every dashboard form shares: words for choices, reading an audience, saying
a problem in her language, who did it (for the audit log), and keeping her typing
when her session expired.

Forms are checked on the server; a form with a mistake is drawn again with her text
and the errors, and nothing is written until all of it is right (one transaction).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Response, abort, g, request, session
from flask_babel import get_locale
from flask_babel import gettext as _

from gateway.errors import ImportRowError, InputProblem
from gateway.messaging.audience import Audience
from gateway.runtime import runtime
from gateway.store.csvfile import plain_row

# What a stashed draft may hold: text she typed, never a password or a token.
_NOT_KEPT = {"csrf", "password"}
_DRAFT_LIMIT = 20_000  # characters; a session cookie is small


def services():
    return runtime().services


def language() -> str:
    return str(get_locale() or "lo")


def actor() -> str:
    """Who did it, as the audit log shows it."""
    return g.user.email if g.get("user") is not None else "?"


def say(problem: Exception) -> str:
    """A problem in her language: an InputProblem's template is in the catalog."""
    if isinstance(problem, ImportRowError) and problem.problem is not None:
        problem = problem.problem
    elif isinstance(problem, ImportRowError):
        return problem.reason
    if hasattr(problem, "problems"):  # every problem of one row, each in her language
        return "; ".join(say(each) for each in problem.problems)
    if isinstance(problem, InputProblem):
        return _(problem.template, **problem.values)
    return str(problem)


def choices(list_name: str) -> list[tuple[str, str]]:
    """(key, label in her language) for one of the flows' lists: provinces, topics, languages."""
    book, catalog = runtime().services.book, runtime().services.catalog
    option_list = book.lists.get(list_name)
    if option_list is None:
        return []
    lang = language()
    return [
        (
            item,
            catalog.template(lang, option_list.label_key(item))
            if catalog.has(lang, option_list.label_key(item))
            else item,
        )
        for item in option_list.items
    ]


def member_languages() -> list[tuple[str, str]]:
    """(code, name in its own script) of each language members can be in, in the
    language menu's order: the languages a text, a title or a poll is written in."""
    from gateway.content import languages

    services_ = services()
    chosen = set(services_.catalog.chosen)
    return [
        (lang.code, lang.name) for lang in languages.described(services_.book, services_.catalog) if lang.code in chosen
    ]


def said_from(table, text: str | None) -> str | None:
    """What the gateway wrote (an audit detail, a version's note, a message's name),
    said in her language: the words of the first pattern of ``table`` that matches
    all of ``text``, or None when none does (a line someone typed is shown as typed)."""
    for pattern, words in table:
        match = pattern.fullmatch(text or "")
        if match:
            return words(match)
    return None


def found(row):
    """The row a page is about, or 404."""
    if row is None:
        abort(404)
    return row


def label(list_name: str, key: str | None) -> str:
    if not key:
        return "—"
    return dict(choices(list_name)).get(key, key)


def audience_from(values) -> Audience:
    """The audience builder's checkboxes (topic, province, language, session) as an
    Audience; anything not offered on the form is ignored."""
    topics = {k for k, _ in choices("topics")}
    provinces = {k for k, _ in choices("provinces")}
    languages = {k for k, _ in choices("languages")}
    session_id = values.get("session", "")
    return Audience(
        tuple(t for t in values.getlist("topic") if t in topics),
        tuple(p for p in values.getlist("province") if p in provinces),
        tuple(lang for lang in values.getlist("language") if lang in languages),
        int(session_id) if session_id.isdigit() and len(session_id) < 10 else None,
    )


@dataclass
class Pages:
    """Where a long list is: page ``number`` of ``count``, ``size`` rows each."""

    number: int
    size: int
    total: int

    @property
    def count(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @classmethod
    def of(cls, total: int, size: int = 50) -> "Pages":
        raw = request.args.get("page", "1")
        number = int(raw) if raw.isdigit() and 0 < len(raw) < 10 and int(raw) > 0 else 1
        return cls(min(number, max(1, math.ceil(total / size))), size, total)


def csv_download(rows, filename: str) -> Response:
    """``rows`` (lists) as a CSV download. With a byte-order mark, Excel opens Lao
    as Lao instead of mojibake. Names and replies are typed by members, so a cell
    that a spreadsheet would run as a formula is made plain text first."""
    out = io.StringIO()
    csv.writer(out).writerows([plain_row(row) for row in rows])
    return Response(
        "\ufeff" + out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


# ------------------------------------------------------------------ expired sessions


def keep_draft() -> None:
    """Her session expired while she typed: keep what she sent (text only) so the
    form comes back filled after she signs in again. Only a post from this site
    counts (its Origin or Referer), so another site cannot plant a draft."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    if urlsplit(source).netloc != request.host:
        return
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in _NOT_KEPT]
    if sum(len(v) for _, v in fields) <= _DRAFT_LIMIT:
        session["draft"] = {"path": request.path, "fields": fields}


def take_draft():
    """The fields she typed into this page before her session expired, once."""
    from werkzeug.datastructures import MultiDict

    draft = session.get("draft")
    if not draft or draft.get("path") != request.path:
        return None
    session.pop("draft")
    return MultiDict(draft["fields"])
