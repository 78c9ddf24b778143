"""Polls: ask a question by SMS, watch the answers come in as a chart that reads in
Lao, download them as CSV, close the poll.

A poll is made exactly as ``outreach poll create`` makes it (``polls.poll``); its
question goes out as a broadcast, sent after a confirmation like any other.
"""

from __future__ import annotations

from datetime import timedelta

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from gateway.dashboard.auth import bp, needs
from gateway.dashboard.broadcasts import session_choices
from gateway.dashboard.form import (
    actor,
    audience_from,
    choices,
    csv_download,
    found,
    language,
    member_languages,
    say,
    services,
    take_draft,
)
from gateway.errors import InputProblem
from gateway.polls import charts
from gateway.polls import poll as polls
from gateway.polls import results as poll_results
from gateway.runtime import runtime
from gateway.store import audit
from gateway.store.models import Broadcast, Poll, PollVote, utcnow
from gateway.store.states import BroadcastState

OPEN_FOR = {"1d": timedelta(days=1), "3d": timedelta(days=3), "7d": timedelta(days=7), "14d": timedelta(days=14)}


def _state(row: Poll, now) -> str:
    if row.is_open(now):
        return _("open")
    return _("not open yet") if row.opens_at > now and row.closed_at is None else _("closed")


def drawn(chart) -> Markup:
    """A chart for a page: drawn wide for a laptop and narrow for a phone (the page's
    style shows the one that fits), so its words stay readable on both."""
    # Our own SVG, every text in it escaped (charts.svg).
    wide = Markup(charts.svg(chart, embed_font=False))  # nosec B704
    narrow = Markup(charts.svg(chart, embed_font=False, width=charts.NARROW))  # nosec B704
    return Markup('<div class="wide">%s</div><div class="narrow">%s</div>') % (wide, narrow)


@bp.get("/polls")
@needs("read")
def polls_list():
    now = utcnow()
    with runtime().db.session() as db:
        votes = dict(db.execute(select(PollVote.poll_id, func.count()).group_by(PollVote.poll_id)).all())
        rows = [
            (row.code, polls.label(row.questions, language()), _state(row, now), row.closes_at, votes.get(row.id, 0))
            for row in db.scalars(select(Poll).order_by(Poll.id.desc()).limit(100))
        ]
    return render_template("dashboard/polls.html", rows=rows)


def _form_page(values, error=None, status=200):
    return render_template(
        "dashboard/poll_new.html",
        values=values,
        error=error,
        open_for=list(OPEN_FOR),
        topics=choices("topics"),
        provinces=choices("provinces"),
        languages=choices("languages"),
        sessions=session_choices(),
    ), status


@bp.get("/polls/new")
@needs("send")
def poll_new():
    return _form_page(take_draft() or MultiDict({"open_for": "7d"}))


@bp.post("/polls/new")
@needs("send")
def poll_new_post():
    form = request.form
    codes = dict(member_languages())
    questions = {lang: form.get(f"question_{lang}", "").strip() for lang in codes}
    questions = {lang: text for lang, text in questions.items() if text}
    # One option per line, each language's list side by side, in the same order.
    lines = {
        lang: [line.strip() for line in form.get(f"options_{lang}", "").splitlines() if line.strip()] for lang in codes
    }
    lines = {lang: found for lang, found in lines.items() if found}
    if len({len(found) for found in lines.values()}) > 1:
        counts = ", ".join(f"{codes[lang]}: {len(found)}" for lang, found in lines.items())
        return _form_page(
            form,
            _(
                "The languages have different numbers of options (%(counts)s): give each "
                "option in every language, one per line, in the same order.",
                counts=counts,
            ),
            400,
        )
    count = max((len(found) for found in lines.values()), default=0)
    options = [{lang: found[n] for lang, found in lines.items()} for n in range(count)]
    opens_at = utcnow()
    closes_at = opens_at + OPEN_FOR.get(form.get("open_for", ""), OPEN_FOR["7d"])
    try:
        with runtime().db.session() as db:
            code = form.get("code", "").strip().upper() or polls.next_code(db)
            polls.check(code, questions, options, opens_at, closes_at, services().catalog.languages)
            row = polls.create(
                db,
                code,
                questions,
                options,
                audience_from(form),
                opens_at,
                closes_at,
                confirm=form.get("confirm_votes") == "yes",
            )
            polls.start_broadcast(db, row, services().catalog)
            audit.record(db, actor(), "poll.create", f"poll {row.code}", polls.label(row.questions, language()))
            code = row.code
    except InputProblem as problem:
        return _form_page(form, say(problem), 400)
    return redirect(url_for("dashboard.poll", code=code))


def _poll(db, code: str) -> Poll:
    return found(db.scalar(select(Poll).where(Poll.code == code.upper())))


@bp.get("/polls/<code>")
@needs("read")
def poll(code: str):
    lang, now = language(), utcnow()
    catalog = runtime().services.catalog
    with runtime().db.session() as db:
        row = _poll(db, code)
        results = poll_results.compute(db, row, lang)
        chart = drawn(poll_results.chart(results, lang, catalog, now))
        broadcast = db.get(Broadcast, row.broadcast_id) if row.broadcast_id else None
        detail = {
            "id": row.id,
            "code": row.code,
            "question": polls.label(row.questions, lang),
            "state": _state(row, now),
            "open": row.is_open(now),
            "opens_at": row.opens_at,
            "closes_at": row.closed_at or row.closes_at,
            "broadcast_id": row.broadcast_id,
            "sent": broadcast is not None and broadcast.status != BroadcastState.DRAFT,
        }
    by_group = [
        (_("By province"), {choices_label("provinces", k): t for k, t in results.by_province.items()}),
        (_("By language"), {choices_label("languages", k): t for k, t in results.by_language.items()}),
    ]
    return render_template("dashboard/poll.html", poll=detail, results=results, chart=chart, by_group=by_group)


def choices_label(list_name: str, key: str) -> str:
    return dict(choices(list_name)).get(key, key)


@bp.post("/polls/<code>/close")
@needs("send")
def poll_close(code: str):
    with runtime().db.session() as db:
        row = _poll(db, code)
        if row.closed_at is None:
            stopped = polls.close(db, row)
            audit.record(db, actor(), "poll.close", f"poll {row.code}", f"{stopped} unsent question(s) stopped")
    return redirect(url_for("dashboard.poll", code=code))


@bp.get("/polls/<code>.csv")
@needs("read")
def poll_csv(code: str):
    with runtime().db.session() as db:
        results = poll_results.compute(db, _poll(db, code), language())
    return csv_download(poll_results.table(results), f"poll-{code.upper()}.csv")
