"""The survey builder: organisers write a survey on a form, not in YAML.

A title, whether it is sensitive, and up to five questions, each a choice (two to
six options), a number from 0 to 10 or a short text, in every language the
content has; the days it is open and the session it follows. It is kept in the
shared draft as ``surveys/<name>.yaml`` and goes live with the draft, as a quiz
does. A survey that members have answered as sensitive stays sensitive: the
box cannot be unticked (its answers were given on that promise).
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.content import survey
from gateway.dashboard import documents
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.content import _edition, _languages
from gateway.dashboard.form import found, language
from gateway.runtime import runtime
from gateway.store import surveys

OPTIONS = survey.MAX_OPTIONS


def _document(name: str) -> str:
    return f"surveys/{name}.yaml"


def _promised(name: str, published: str | None) -> bool:
    """Whether members were told this survey is sensitive: it was published so, or
    answered so."""
    if published and survey.to_form(published)["sensitive"]:
        return True
    with runtime().db.session() as db:
        return surveys.is_sensitive(db, name)


@bp.get("/content/surveys")
@needs("read")
def content_surveys():
    edition = _edition()
    lang = language() if language() in edition.catalog.languages else _languages(edition)[0]
    rows = documents.listing("surveys", survey.to_form)
    with runtime().db.session() as db:
        closed = surveys.closed(db, [row["name"] for row in rows])
    for row in rows:
        row.update(
            title=row["form"]["title"].get(lang) or row["name"],
            questions=len(row["form"]["questions"]),
            sensitive=row["form"].get("sensitive"),
            closed=row["name"] in closed,
        )
    return render_template("dashboard/surveys.html", rows=rows, back_to=url_for("dashboard.content_surveys"))


def _blank_question() -> dict:
    return {"kind": "choice", "ask": {}, "options": [{} for _ in range(OPTIONS)]}


def _padded(form: dict) -> dict:
    questions = [dict(q, options=list(q["options"]) + [{}] * (OPTIONS - len(q["options"]))) for q in form["questions"]]
    questions += [_blank_question() for _ in range(survey.MAX_QUESTIONS - len(questions))]
    return {**form, "questions": questions}


def _page(
    form: dict,
    errors: list[str] | None = None,
    new: bool = False,
    base: str = "",
    status: int = 200,
    conflict: str | None = None,
    promised: bool = False,
):
    return render_template(
        "dashboard/survey_form.html",
        form=_padded(form),
        errors=errors or [],
        new=new,
        languages=_languages(_edition()),
        required_languages=_edition().catalog.promised,
        base=base,
        conflict=conflict,
        promised=promised,
        kinds=survey.KINDS,
        back_to=url_for("dashboard.content_surveys"),
    ), status


@bp.get("/content/surveys/new")
@needs("send")
def content_survey_new():
    blank = {"name": "", "title": {}, "sensitive": False, "opens": "", "closes": "", "session": "", "questions": []}
    return _page(blank, new=True)[0]


@bp.get("/content/surveys/<name>")
@needs("read")
def content_survey_edit(name: str):
    published, pending = documents.current(_document(name))
    body = pending if pending is not None else published
    if not body:
        return found(None)
    return _page({**survey.to_form(body), "name": name}, base=body, promised=_promised(name, published))[0]


def _read_form(languages: list[str]) -> tuple[dict, list[str]]:
    form, errors = documents.heading(languages)
    form["sensitive"] = request.form.get("sensitive") == "on"
    text = documents.typed
    for n in range(1, survey.MAX_QUESTIONS + 1):
        kind = request.form.get(f"q{n}_kind", "choice")
        kind = kind if kind in survey.KINDS else "choice"
        ask = {lang: text(f"q{n}_ask_{lang}") for lang in languages}
        options = [{lang: text(f"q{n}_o{m}_{lang}") for lang in languages} for m in range(1, OPTIONS + 1)]
        while options and not any(options[-1].values()):
            options.pop()
        if not any(ask.values()) and not options:
            continue
        if kind != "choice" and options:
            errors.append(_("Question %(number)s has options, but only a choice has options.", number=n))
        if any(not any(option.values()) for option in options):
            errors.append(_("Question %(number)s has an empty option between others.", number=n))
        form["questions"].append({"kind": kind, "ask": ask, "options": options})
    if not form["questions"]:
        errors.append(_("Write at least one question."))
    return form, errors


@bp.post("/content/surveys")
@needs("send")
def content_survey_save():
    """Check the survey and keep it in the draft; or show her every problem on the form."""
    languages = _languages(_edition())
    form, errors = _read_form(languages)
    new = request.form.get("new") == "1"
    base = request.form.get("base", "")
    name = _document(form["name"])
    published = documents.current(name)[0]
    promised = not new and _promised(form["name"], published)
    if promised and not form["sensitive"]:
        errors.append(_("Members were told this survey is private. It stays sensitive."))
        form["sensitive"] = True
    if errors:
        return _page(form, errors, new, base, 400, promised=promised)
    body = survey.to_document(form)
    if new and any(documents.current(name)):
        return _page(form, [_("There is a survey with this short name already; choose another.")], new, base, 400)
    problems = documents.problems(name, body)
    if problems:
        return _page(form, problems, new, base, 400, promised=promised)
    conflict = documents.save(name, body, base, request.form.get("overwrite") == "yes" or new, "survey")
    if conflict is not None:
        return _page(form, [], new, documents.latest(name), 409, conflict=conflict, promised=promised)
    return redirect(url_for("dashboard.content_survey_edit", name=form["name"], saved=1))


@bp.post("/content/surveys/<name>/remove")
@needs("send")
def content_survey_remove(name: str):
    """Take the survey away with the next publish. A sensitive one's answers are then
    deleted, its totals kept, as at its close."""
    documents.remove(_document(name), "survey")
    return redirect(url_for("dashboard.content_surveys"))
