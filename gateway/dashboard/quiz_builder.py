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

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.content import quiz
from gateway.dashboard import documents
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.content import _edition, _languages
from gateway.dashboard.form import found, language

OPTIONS = quiz.MAX_OPTIONS


def _document(name: str) -> str:
    return f"quizzes/{name}.yaml"


@bp.get("/content/quizzes")
@needs("read")
def content_quizzes():
    edition = _edition()
    lang = language() if language() in edition.catalog.languages else _languages(edition)[0]
    rows = [
        {
            "name": row["name"],
            "title": row["form"]["title"].get(lang) or row["name"],
            "questions": len(row["form"]["questions"]),
            "opens": row["form"].get("opens"),
            "closes": row["form"].get("closes"),
            "draft": row["draft"],
            "removed": row["removed"],
            "published": row["published"],
        }
        for row in documents.listing("quizzes", quiz.to_form)
    ]
    return render_template("dashboard/quizzes.html", rows=rows, back_to=url_for("dashboard.content_quizzes"))


def _blank() -> dict:
    return {
        "name": "",
        "title": {},
        "opens": "",
        "closes": "",
        "session": "",
        "questions": [
            {"ask": {}, "options": [{} for _ in range(OPTIONS)], "answer": 1, "why": {}}
            for _ in range(quiz.MAX_QUESTIONS)
        ],
    }


def _padded(form: dict) -> dict:
    """The form with room for ten questions of four options each."""
    questions = [dict(q, options=list(q["options"]) + [{}] * (OPTIONS - len(q["options"]))) for q in form["questions"]]
    questions += [
        {"ask": {}, "options": [{} for _ in range(OPTIONS)], "answer": 1, "why": {}}
        for _ in range(quiz.MAX_QUESTIONS - len(questions))
    ]
    return {**form, "questions": questions}


def _page(
    form: dict,
    errors: list[str] | None = None,
    new: bool = False,
    base: str = "",
    status: int = 200,
    conflict: str | None = None,
):
    edition = _edition()
    return render_template(
        "dashboard/quiz_form.html",
        form=_padded(form),
        errors=errors or [],
        new=new,
        languages=_languages(edition),
        required_languages=edition.catalog.promised,
        base=base,
        conflict=conflict,
        back_to=url_for("dashboard.content_quizzes"),
    ), status


@bp.get("/content/quizzes/new")
@needs("send")
def content_quiz_new():
    return _page(_blank(), new=True)[0]


@bp.get("/content/quizzes/<name>")
@needs("read")
def content_quiz_edit(name: str):
    published, pending = documents.current(_document(name))
    body = pending if pending is not None else published
    if not body:
        return found(None)
    return _page({**quiz.to_form(body), "name": name}, base=body)[0]


def _read_form(languages: list[str]) -> tuple[dict, list[str]]:
    """The builder's fields, and what is wrong with them before any screen is drawn."""
    form, errors = documents.heading(languages)
    text = documents.typed
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
        form["questions"].append(
            {
                "ask": ask,
                "options": options,
                "why": why,
                "answer": int(answer) if answer.isdigit() and len(answer) < 3 else 0,
            }
        )
    return form, errors


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
    if new and any(documents.current(name)):
        return _page(form, [_("There is a quiz with this short name already; choose another.")], new, base, 400)
    problems = documents.problems(name, body)
    if problems:
        return _page(form, problems, new, base, 400)
    conflict = documents.save(name, body, base, request.form.get("overwrite") == "yes" or new, "quiz")
    if conflict is not None:
        return _page(form, [], new, documents.latest(name), 409, conflict=conflict)
    return redirect(url_for("dashboard.content_quiz_edit", name=form["name"], saved=1))


@bp.post("/content/quizzes/<name>/remove")
@needs("send")
def content_quiz_remove(name: str):
    """Take the quiz away with the next publish (its answers and reports stay)."""
    documents.remove(_document(name), "quiz")
    return redirect(url_for("dashboard.content_quizzes"))
