"""The quiz reports, one quiz at a time (the shipped digital-safety quiz first):
how many got each question right, by province and language, and how the scores
spread."""

from __future__ import annotations

from flask import abort, render_template, request

from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import choices, csv_download, language
from gateway.dashboard.polls import drawn
from gateway.content.quiz import SHIPPED, listed
from gateway.polls import quiz_report
from gateway.runtime import runtime
from gateway.store.models import utcnow


def quizzes() -> dict[str, str]:
    """Each quiz of the published content: its name -> its title's prompt key."""
    titles = {entry["quiz"]: entry["title"] for entry in listed(runtime().services.book)}
    return {name: ("report.digital_safety" if name == SHIPPED[1] else key) for name, key in titles.items()}


def _chosen() -> tuple[str, str]:
    known = quizzes()
    name = request.args.get("name") or next(iter(known), SHIPPED[1])
    if name not in known:
        abort(404)
    return name, known[name]


def _report(name: str):
    services = runtime().services
    with runtime().db.session() as db:
        return quiz_report.compute(db, services.book, services.catalog, language(), quiz=name)


@bp.get("/quiz")
@needs("read")
def quiz():
    name, title_key = _chosen()
    report = _report(name)
    catalog = runtime().services.catalog
    questions, scores = quiz_report.charts(report, language(), catalog, utcnow(), title_key)
    provinces, languages = dict(choices("provinces")), dict(choices("languages"))
    titles = {key: catalog.template(language(), title) for key, title in quizzes().items()}
    return render_template(
        "dashboard/quiz.html",
        report=report,
        provinces=provinces,
        languages=languages,
        name=name,
        titles=titles,
        charts=[drawn(chart) for chart in (questions, scores)],
    )


@bp.get("/quiz.csv")
@needs("read")
def quiz_csv():
    name, _title = _chosen()
    return csv_download(quiz_report.table(_report(name)), f"quiz-{name}.csv")
