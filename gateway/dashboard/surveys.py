"""A survey's results: each question overall, by province and by language, with a
CSV; and closing a survey before its last day.

A sensitive survey is shown in aggregate only (``polls.survey_report`` hides
every group of fewer than five answers, and says how many it hid); once closed,
its page shows the totals kept at the close, its answers gone.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from gateway.content import survey
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import actor, choices, csv_download, language, services
from gateway.messaging import survey_closing
from gateway.polls import survey_report
from gateway.polls.results import UNKNOWN
from gateway.runtime import runtime
from gateway.store import surveys


def _report(name: str) -> tuple[dict, dict, object, list]:
    """(the report, what the survey asks, its closure or None, its answer rows)."""
    entry = survey_closing.entry_of(services(), name)
    with runtime().db.session() as db:
        closure = surveys.closure(db, name)
        rows = surveys.responses(db, name)
        sensitive = (
            bool(entry and entry.get("sensitive"))
            or surveys.is_sensitive(db, name)
            or bool(closure and closure.sensitive)
        )
        db.expunge_all()
    if entry is None and closure is None and not rows:
        abort(404)
    if closure is not None and closure.sensitive:
        report = closure.results or {
            "survey": name,
            "sensitive": True,
            "responses": closure.responses,
            "hidden": {},
            "withheld": True,
            "questions": [],
        }
    elif entry is None:
        abort(404)  # answers to a survey no version ever published: nothing to read them by
    else:
        report = survey_report.compute(name, entry, rows, sensitive)
    return report, entry or {}, closure, rows


def _labels(name: str) -> dict:
    catalog, lang = services().catalog, language()
    provinces, languages = dict(choices("provinces")), dict(choices("languages"))
    unknown = _("not given")

    def value(number: int, value) -> str:
        key = f"surveys.{name}.q{number}.o{value}"
        return catalog.template(lang, key) if catalog.has(lang, key) or catalog.has("en", key) else str(value)

    return {
        "province": lambda key: unknown if key == UNKNOWN else provinces.get(key, key),
        "language": lambda key: unknown if key == UNKNOWN else languages.get(key, key),
        "value": value,
        "moment": lambda when: format_datetime(when, "yyyy-MM-dd HH:mm"),
    }


@bp.get("/surveys/<name>")
@needs("read")
def survey_results(name: str):
    report, entry, closure, _rows = _report(name)
    catalog, lang = services().catalog, language()
    asks = [catalog.template(lang, f"surveys.{name}.q{q['number']}.ask") for q in report["questions"]]
    return render_template(
        "dashboard/survey.html",
        name=name,
        report=report,
        asks=asks,
        closure=closure,
        title=catalog.template(lang, survey.title_key(name)),
        labels=_labels(name),
        open=closure is None,
        back_to=url_for("dashboard.survey_results", name=name),
    )


@bp.get("/surveys/<name>.csv")
@needs("read")
def survey_csv(name: str):
    report, _entry, _closure, rows = _report(name)
    headings = {
        "question": _("Question"),
        "breakdown": _("Breakdown"),
        "group": _("Group"),
        "answer": _("Answer"),
        "count": _("Count"),
        "all": _("All"),
        "province": _("Province"),
        "language": _("Language"),
        "response": _("Response"),
        "answered": _("Answered"),
        "channel": _("Channel"),
    }
    return csv_download(survey_report.table(report, _labels(name), headings, rows), f"survey-{name}.csv")


@bp.post("/surveys/<name>/close")
@needs("send")
def survey_close(name: str):
    """Close it now: it leaves the members' list; a sensitive one's answers are deleted."""
    if survey_closing.entry_of(services(), name) is None:
        abort(404)
    survey_closing.close(services(), name, actor())
    return redirect(url_for("dashboard.survey_results", name=name))
