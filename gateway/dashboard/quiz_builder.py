"""The quiz builder: organisers write a quiz on a form, not in YAML.

A title and up to ten questions, each with two to four options, the right one and
a short why, in every language the content has; the days it is open and the
session it follows. Saving checks the quiz the way publishing does (every question
and its wrong-answer screen on one USSD page, in every language) and keeps it in
the shared draft as the document ``quizzes/<name>.yaml``; it goes live with the
draft, after the publish checks (the hop walk included). Someone else's change
to the same quiz meanwhile is a conflict, as for any text.
"""

from __future__ import annotations

import re

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.content import quiz, wording
from gateway.content.review import review
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.content import _desk, _edition, _languages, _limits, say_problem
from gateway.dashboard.form import actor, found, language
from gateway.encoding import normalise_lao
from gateway.store import audit
from gateway.store import content as versions

DOC = ""  # a content edit of a whole document: no language
OPTIONS = quiz.MAX_OPTIONS


def _document(name: str) -> str:
    return f"quizzes/{name}.yaml"


def _current(name: str) -> tuple[str | None, str | None]:
    """(the body members see, the draft's body) of quiz ``name``; None where there is none."""
    published = _edition().documents.get(_document(name))
    with current_app.extensions["db"].session() as db:
        pending = versions.edit(db, DOC, _document(name))
        return published, (pending.text if pending is not None else None)


@bp.get("/content/quizzes")
@needs("read")
def content_quizzes():
    edition = _edition()
    with current_app.extensions["db"].session() as db:
        pending = {row.key: row for row in versions.edits(db) if row.language == DOC}
        db.expunge_all()
    names = sorted({doc.removeprefix("quizzes/").removesuffix(".yaml")
                    for doc in list(edition.documents) + list(pending) if doc.startswith("quizzes/")})
    lang = language() if language() in edition.catalog.languages else _languages(edition)[0]
    rows = []
    for name in names:
        body = pending[_document(name)].text if _document(name) in pending else edition.documents.get(_document(name))
        form = quiz.to_form(body) if body else {"title": {}, "questions": []}
        rows.append({"name": name, "title": form["title"].get(lang) or name, "questions": len(form["questions"]),
                     "opens": form.get("opens"), "closes": form.get("closes"),
                     "draft": _document(name) in pending, "removed": body == "",
                     "published": _document(name) in edition.documents})
    return render_template("dashboard/quizzes.html", rows=rows, back_to=url_for("dashboard.content_quizzes"))


def _blank() -> dict:
    return {"name": "", "title": {}, "opens": "", "closes": "", "session": "",
            "questions": [{"ask": {}, "options": [{} for _ in range(OPTIONS)], "answer": 1, "why": {}}
                          for _ in range(quiz.MAX_QUESTIONS)]}


def _padded(form: dict) -> dict:
    """The form with room for ten questions of four options each."""
    questions = [dict(q, options=list(q["options"]) + [{}] * (OPTIONS - len(q["options"])))
                 for q in form["questions"]]
    questions += [{"ask": {}, "options": [{} for _ in range(OPTIONS)], "answer": 1, "why": {}}
                  for _ in range(quiz.MAX_QUESTIONS - len(questions))]
    return {**form, "questions": questions}


def _page(form: dict, errors: list[str] | None = None, new: bool = False, base: str = "", status: int = 200,
          conflict: str | None = None):
    edition = _edition()
    return render_template("dashboard/quiz_form.html", form=_padded(form), errors=errors or [], new=new,
                           languages=_languages(edition), base=base, conflict=conflict,
                           back_to=url_for("dashboard.content_quizzes")), status


@bp.get("/content/quizzes/new")
@needs("send")
def content_quiz_new():
    return _page(_blank(), new=True)[0]


@bp.get("/content/quizzes/<name>")
@needs("read")
def content_quiz_edit(name: str):
    published, pending = _current(name)
    body = pending if pending is not None else published
    if not body:
        return found(None)
    return _page({**quiz.to_form(body), "name": name}, base=body)[0]


def _read_form(languages: list[str]) -> tuple[dict, list[str]]:
    """The builder's fields, and what is wrong with them before any screen is drawn."""
    errors: list[str] = []
    text = lambda field: normalise(request.form.get(field, ""))[:wording.MAX_TEXT]  # noqa: E731
    form = {"name": request.form.get("name", "").strip().lower()[:31], "title": {}, "questions": [],
            "opens": request.form.get("opens", "").strip()[:10], "closes": request.form.get("closes", "").strip()[:10],
            "session": request.form.get("session", "").strip()[:9]}
    for lang in languages:
        form["title"][lang] = text(f"title_{lang}")
    for n in range(1, quiz.MAX_QUESTIONS + 1):
        ask = {lang: text(f"q{n}_ask_{lang}") for lang in languages}
        options = [{lang: text(f"q{n}_a{m}_{lang}") for lang in languages} for m in range(1, OPTIONS + 1)]
        why = {lang: text(f"q{n}_why_{lang}") for lang in languages}
        while options and not any(options[-1].values()):
            options.pop()  # the unused last boxes; one left empty between others is a mistake
        if not any(ask.values()) and not options and not any(why.values()):
            continue  # an empty block: no question
        if any(not any(option.values()) for option in options):
            errors.append(_("Question %(number)s has an empty option between others.", number=n))
        answer = request.form.get(f"q{n}_answer", "")
        form["questions"].append({"ask": ask, "options": options, "why": why,
                                  "answer": int(answer) if answer.isdigit() and len(answer) < 3 else 0})
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", form["name"]):
        errors.append(_("A quiz's short name is lower-case English letters, digits and _, such as laws_2027."))
    for key in ("opens", "closes"):
        if form[key] and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", form[key]):
            errors.append(_("Dates are written 2026-12-31."))
    if form["session"] and not form["session"].isdigit():
        errors.append(_("The session is its number, as on the Sessions page."))
    form["session"] = int(form["session"]) if form["session"].isdigit() else ""
    return form, errors


def normalise(text: str) -> str:
    return normalise_lao(text.strip())


@bp.post("/content/quizzes")
@needs("send")
def content_quiz_save():
    """Check the quiz and keep it in the draft; or show her every problem on the form."""
    edition = _edition()
    languages = _languages(edition)
    form, errors = _read_form(languages)
    new = request.form.get("new") == "1"
    base = request.form.get("base", "")
    if errors:
        return _page(form, errors, new, base, 400)
    body = quiz.to_document(form)
    name = _document(form["name"])
    if new and (name in edition.documents or _current(form["name"])[1]):
        return _page(form, [_("There is a quiz with this short name already; choose another.")], new, base, 400)
    docs = {**edition.documents, name: body}
    problems = [p for p in review(docs, _desk().action_names, current_app.config["GATEWAY"].timezone, _limits(),
                                  hops=False)
                if p.severity == "error" and p.location.startswith(name)]
    if problems:
        return _page(form, [say_problem(p) for p in problems], new, base, 400)
    with current_app.extensions["db"].session() as db:
        pending = versions.edit(db, DOC, name)
        now = pending.text if pending is not None else edition.documents.get(name, "")
        if not new and base != now and request.form.get("overwrite") != "yes":
            db.rollback()
            return _page(form, [], new, now, 409, conflict=pending.author if pending is not None else "?")
        versions.save_edit(db, DOC, name, body, edition.documents.get(name), actor())
        audit.record(db, actor(), "content.edit", name[:80], "quiz")
    return redirect(url_for("dashboard.content_quiz_edit", name=form["name"], saved=1))


@bp.post("/content/quizzes/<name>/remove")
@needs("send")
def content_quiz_remove(name: str):
    """Take the quiz away with the next publish (its answers and reports stay)."""
    if _document(name) not in _edition().documents:
        with current_app.extensions["db"].session() as db:
            versions.drop_edit(db, DOC, _document(name))  # only ever a draft: forget it
        return redirect(url_for("dashboard.content_quizzes"))
    with current_app.extensions["db"].session() as db:
        versions.save_edit(db, DOC, _document(name), "", _edition().documents.get(_document(name)), actor())
        audit.record(db, actor(), "content.edit", _document(name), "quiz removed")
    return redirect(url_for("dashboard.content_quizzes"))
