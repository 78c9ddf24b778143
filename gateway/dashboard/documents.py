"""Whole documents in the shared draft: what the quiz and survey builders keep.

A builder writes one document (``quizzes/<name>.yaml``, ``surveys/<name>.yaml``)
as a content edit with no language. Saving checks it the way publishing does,
only for that document; someone else's change meanwhile is a conflict, as for a
text; removing it takes it away with the next publish.
"""

from __future__ import annotations

import re
from typing import Callable

from flask import current_app, request
from flask_babel import gettext as _

from gateway.content.review import review
from gateway.dashboard.content import _desk, _edition, _limits, say_problem
from gateway.content import wording
from gateway.dashboard.form import actor
from gateway.encoding import normalise_lao
from gateway.runtime import runtime
from gateway.store import audit
from gateway.store import content as versions

DOC = ""  # a content edit of a whole document: no language


def current(document: str) -> tuple[str | None, str | None]:
    """(the body members see, the draft's body) of ``document``; None where there is none."""
    published = _edition().documents.get(document)
    with runtime().db.session() as db:
        pending = versions.edit(db, DOC, document)
        return published, (pending.text if pending is not None else None)


def latest(document: str) -> str:
    """The draft's body of ``document``, or else the published one ("" for none)."""
    published, pending = current(document)
    return pending if pending is not None else (published or "")


def listing(folder: str, to_form: Callable[[str], dict]) -> list[dict]:
    """Each document of ``folder`` in the published content or the draft: its name,
    its form, and whether it is changed, removed or published."""
    edition = _edition()
    with runtime().db.session() as db:
        pending = {row.key: row.text for row in versions.edits(db) if row.language == DOC}
    names = sorted({doc for doc in list(edition.documents) + list(pending) if doc.startswith(folder + "/")})
    rows = []
    for document in names:
        body = pending[document] if document in pending else edition.documents.get(document)
        rows.append(
            {
                "name": document.removeprefix(folder + "/").removesuffix(".yaml"),
                "form": to_form(body) if body else {"title": {}, "questions": []},
                "draft": document in pending,
                "removed": body == "",
                "published": document in edition.documents,
            }
        )
    return rows


def problems(document: str, body: str) -> list[str]:
    """What publishing would refuse in this document, in her language (not the hop
    walk: that runs at publish)."""
    docs = {**_edition().documents, document: body}
    found = review(docs, _desk().action_names, current_app.config["GATEWAY"].timezone, _limits(), hops=False)
    return [say_problem(p) for p in found if p.severity == "error" and p.location.startswith(document)]


def save(document: str, body: str, base: str, overwrite: bool, what: str) -> str | None:
    """Keep ``body`` in the draft; or, when someone changed the document since she
    opened it (``base``), return who, and save nothing."""
    published = _edition().documents.get(document)
    with runtime().db.session() as db:
        pending = versions.edit(db, DOC, document)
        now = pending.text if pending is not None else (published or "")
        if base != now and not overwrite:
            db.rollback()
            return pending.author if pending is not None else "?"
        versions.save_edit(db, DOC, document, body, published, actor())
        audit.record(db, actor(), "content.edit", document[:80], what)
    return None


def remove(document: str, what: str) -> None:
    """Take the document away with the next publish (a draft-only one is forgotten)."""
    published = _edition().documents.get(document)
    with runtime().db.session() as db:
        if published is None:
            versions.drop_edit(db, DOC, document)
        else:
            versions.save_edit(db, DOC, document, "", published, actor())
            audit.record(db, actor(), "content.edit", document[:80], f"{what} removed")


def typed(field: str) -> str:
    """A text box of the builder's form, as kept: trimmed, normalised, size-limited."""
    return normalise_lao(request.form.get(field, "").strip())[: wording.MAX_TEXT]


def heading(languages: list[str]) -> tuple[dict, list[str]]:
    """The fields every builder has (short name, title, dates, session), and what is
    wrong with them."""
    errors: list[str] = []
    form = {
        "name": request.form.get("name", "").strip().lower()[:31],
        "questions": [],
        "title": {lang: typed(f"title_{lang}") for lang in languages},
        "opens": request.form.get("opens", "").strip()[:10],
        "closes": request.form.get("closes", "").strip()[:10],
        "session": request.form.get("session", "").strip()[:9],
    }
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", form["name"]):
        errors.append(_("A short name is lower-case English letters, digits and _, such as laws_2027."))
    for key in ("opens", "closes"):
        if form[key] and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", form[key]):
            errors.append(_("Dates are written 2026-12-31."))
    if form["session"] and not form["session"].isdigit():
        errors.append(_("The session is its number, as on the Sessions page."))
    form["session"] = int(form["session"]) if form["session"].isdigit() else ""
    return form, errors
