"""The digital-safety quiz report: how many got each question right, by province
and language, and how the scores spread."""

from __future__ import annotations

from flask import current_app, render_template
from markupsafe import Markup

from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import choices, csv_download, language
from gateway.polls import charts, quiz_report
from gateway.store.models import utcnow


def _report():
    with current_app.extensions["db"].session() as db:
        return quiz_report.compute(db, current_app.extensions["services"].book, current_app.extensions["services"].catalog,
                                   language())


@bp.get("/quiz")
@needs("read")
def quiz():
    report = _report()
    questions, scores = quiz_report.charts(report, language(), current_app.extensions["services"].catalog, utcnow())
    provinces, languages = dict(choices("provinces")), dict(choices("languages"))
    return render_template("dashboard/quiz.html", report=report, provinces=provinces, languages=languages,
                           # our own SVG, every text in it escaped (charts.svg)
                           charts=[Markup(charts.svg(chart, embed_font=False))  # nosec B704
                                   for chart in (questions, scores)])


@bp.get("/quiz.csv")
@needs("read")
def quiz_csv():
    return csv_download(quiz_report.table(_report()), "quiz.csv")
