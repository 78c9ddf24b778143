"""Sessions: the upcoming ones as a list and a month calendar; add, edit and cancel
(each shows the reminders it schedules); who enrolled; what they thought of it.

Saving goes through the same checks as ``outreach sessions add`` (``store.schedule``);
the reminders are then (re)scheduled exactly as the CLI does.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from gateway.config import duration_minutes
from gateway.content.vocabulary import Vocabulary
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import actor, choices, found, language, member_languages, say, services, take_draft
from gateway.errors import InputProblem
from gateway.messaging import reminders as reminder_jobs
from gateway.phone import mask
from gateway.polls import results as poll_results
from gateway.runtime import runtime
from gateway.store import audit, schedule
from gateway.store.models import Enrolment, Member, Poll, TrainingSession, utcnow

FIELDS = (
    "kind",
    "topic",
    "language",
    "starts_at",
    "duration_minutes",
    "place",
    "join_link",
    "dial_in",
    "capacity",
    "feedback_after",
)  # and title_<language> for each language
FEEDBACK_CHOICES = ("", "off", "1h", "2h", "1d")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["GATEWAY"].timezone)


def _title(row: TrainingSession) -> str:
    return row.titles.get(language()) or next(iter(row.titles.values()), "")


def _kinds() -> list[tuple[str, str]]:
    catalog = runtime().services.catalog
    return [(kind, catalog.template(language(), f"kind.{kind}")) for kind in schedule.KINDS]


def _languages() -> list[tuple[str, str]]:
    return member_languages() + [(schedule.BOTH, _("every language"))]


@bp.get("/sessions")
@needs("read")
def sessions():
    zone = _zone()
    today = datetime.now(zone).date()
    wanted = request.args.get("month", "")
    try:
        first = datetime.strptime(wanted, "%Y-%m").date() if wanted else today.replace(day=1)
    except ValueError:
        first = today.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    with runtime().db.session() as db:
        kinds, languages = dict(_kinds()), dict(_languages())
        upcoming = [
            (
                row.id,
                row.starts_at,
                _title(row),
                kinds.get(row.kind, row.kind),
                languages.get(row.language, row.language),
                schedule.enrolled_count(db, row.id),
                row.capacity,
                row.cancelled_at,
            )
            for row in schedule.upcoming(db)[:100]
        ]
        in_month = list(
            db.scalars(
                select(TrainingSession)
                .where(TrainingSession.starts_at >= start, TrainingSession.starts_at < end)
                .order_by(TrainingSession.starts_at)
            )
        )
        by_day: dict[date, list] = {}
        for row in in_month:
            local = row.starts_at.astimezone(zone)
            by_day.setdefault(local.date(), []).append((row.id, local, _title(row), row.cancelled_at))
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = last + timedelta(days=1)
    return render_template(
        "dashboard/sessions.html",
        upcoming=upcoming,
        weeks=weeks,
        by_day=by_day,
        month=first,
        today=today,
        previous=previous.strftime("%Y-%m"),
        following=following.strftime("%Y-%m"),
        weekdays=[date(2026, 11, 30) + timedelta(days=n) for n in range(7)],
    )


def _blank() -> MultiDict:
    return MultiDict(
        {
            "kind": "hangout",
            "language": current_app.config["GATEWAY"].default_language,
            "duration_minutes": "60",
            "feedback_after": "",
        }
    )


def _feedback_usual() -> str:
    """When the gateway asks for feedback unless a session says otherwise, in words."""
    minutes = current_app.config["GATEWAY"].feedback_minutes()
    if minutes is None:
        return _("as usual: do not ask")
    return _("as usual: %(hours)s hour(s) later", hours=format_decimal(minutes / 60))


def _form_page(values, errors: list[str], row=None, status: int = 200):
    return render_template(
        "dashboard/session_form.html",
        values=values,
        errors=errors,
        row=row,
        kinds=_kinds(),
        topics=choices("topics"),
        languages=_languages(),
        feedback_choices=FEEDBACK_CHOICES,
        feedback_usual=_feedback_usual(),
        shared=reminder_jobs.shared_texts(services().catalog, [lang for lang, _name in member_languages()]),
    ), status


@bp.get("/sessions/new")
@needs("send")
def session_new():
    return _form_page(take_draft() or _blank(), [])


@bp.post("/sessions/new")
@needs("send")
def session_new_post():
    fields, errors = _fields(request.form)
    if errors:
        return _form_page(request.form, errors, status=400)
    with runtime().db.session() as db:
        row = schedule.add(db, fields)
        audit.record(db, actor(), "session.create", f"session {row.id}", _title(row))
        session_id = row.id
    reminder_jobs.schedule(services(), session_id)
    return redirect(url_for("dashboard.session", session_id=session_id, saved=1))


def _fields(form) -> tuple[dict, list[str]]:
    """The form as a session's fields, or the reasons it cannot be saved (her language)."""
    config = current_app.config["GATEWAY"]
    app_services = services()
    values = {key: form.get(key, "") for key in FIELDS + tuple(f"title_{lang}" for lang, _name in member_languages())}
    errors = []
    try:
        fields = schedule.session_fields(
            values, Vocabulary.build(app_services.book, app_services.catalog), config.timezone
        )
        fields["reminder_texts"] = reminder_jobs.check_own_texts(
            {lang: form.get(f"reminder_{lang}", "") for lang, _name in member_languages()}, app_services.catalog
        )
    except InputProblem as problem:
        return {}, [say(problem)]
    feedback = values["feedback_after"].strip()
    if feedback == "":
        fields["feedback_after_minutes"] = config.feedback_minutes()
    elif feedback == "off":
        fields["feedback_after_minutes"] = None
    else:
        try:
            fields["feedback_after_minutes"] = duration_minutes(feedback)
        except ValueError:
            errors.append(_("Choose when to ask for feedback from the list."))
    if fields["starts_at"] < utcnow() and not form.get("allow_past"):
        errors.append(_("This start time has passed. Choose a time in the future."))
    return fields, errors


@bp.get("/sessions/<int:session_id>")
@needs("read")
def session(session_id: int):
    with runtime().db.session() as db:
        row = found(db.get(TrainingSession, session_id))
        reminders = [(r.kind, r.offset_minutes, r.due_at, r.status) for r in schedule.reminders(db, row.id)]
        reaches = reminder_jobs.recipients(db, row, services().catalog, current_app.config["GATEWAY"].default_language)
        enrolled = db.execute(
            select(
                Member.id, Member.name, Member.phone, Enrolment.channel, Enrolment.created_at, Enrolment.confirmed_at
            )
            .join(Member, Member.id == Enrolment.member_id)
            .where(Enrolment.session_id == row.id)
            .order_by(Enrolment.created_at)
        ).all()
        enrolled = [(e.id, e.name or "—", mask(e.phone), e.channel, e.created_at, e.confirmed_at) for e in enrolled]
        feedback = db.scalar(select(Poll).where(Poll.session_id == row.id, Poll.kind == "feedback"))
        results = poll_results.compute(db, feedback, language()) if feedback is not None else None
        detail = {
            "id": row.id,
            "title": _title(row),
            "titles": dict(row.titles),
            "kind": dict(_kinds()).get(row.kind),
            "topic": dict(choices("topics")).get(row.topic, row.topic),
            "language": dict(_languages()).get(row.language, row.language),
            "starts_at": row.starts_at,
            "duration": row.duration_minutes,
            "where": schedule.where_to_join(row),
            "capacity": row.capacity,
            "cancelled_at": row.cancelled_at,
            "feedback_after": row.feedback_after_minutes,
        }
    average = None
    if results is not None and results.answered:
        average = sum(n * v for n, v in enumerate(results.overall.votes, start=1)) / results.answered
    return render_template(
        "dashboard/session.html",
        row=detail,
        reminders=reminders,
        enrolled=enrolled,
        results=results,
        average=average,
        reaches=reaches,
        states=reminder_states(),
        topic=row.topic,
        language_names=dict(member_languages()),
    )


def reminder_states() -> dict[str, str]:
    """A reminder's state in her words."""
    return {
        "scheduled": _("will be sent"),
        "firing": _("sending"),
        "sent": _("sent"),
        "missed": _("not sent: its time had passed when the session was saved"),
        "cancelled": _("cancelled"),
    }


@bp.get("/sessions/<int:session_id>/edit")
@needs("send")
def session_edit(session_id: int):
    draft = take_draft()
    with runtime().db.session() as db:
        row = found(db.get(TrainingSession, session_id))
        values = draft or MultiDict(
            {
                **{f"title_{lang}": text for lang, text in row.titles.items()},
                "kind": row.kind,
                "topic": row.topic,
                "language": row.language,
                "starts_at": row.starts_at.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M"),
                "duration_minutes": str(row.duration_minutes),
                "place": row.place or "",
                "join_link": row.join_link or "",
                "dial_in": row.dial_in or "",
                "capacity": str(row.capacity or ""),
                "feedback_after": "off" if row.feedback_after_minutes is None else f"{row.feedback_after_minutes}m",
                **{f"reminder_{lang}": text for lang, text in (row.reminder_texts or {}).items()},
            }
        )
        return _form_page(values, [], row={"id": row.id, "title": _title(row)})


@bp.post("/sessions/<int:session_id>/edit")
@needs("send")
def session_edit_post(session_id: int):
    fields, errors = _fields(request.form)
    with runtime().db.session() as db:
        row = found(db.get(TrainingSession, session_id))
        if errors:
            return _form_page(request.form, errors, row={"id": row.id, "title": _title(row)}, status=400)
        changed = [key for key, value in fields.items() if getattr(row, key) != value]
        for key, value in fields.items():
            setattr(row, key, value)
        if changed:
            audit.record(db, actor(), "session.edit", f"session {row.id}", ", ".join(changed))
    reminder_jobs.schedule(services(), session_id)
    return redirect(url_for("dashboard.session", session_id=session_id, saved=1))


@bp.post("/sessions/<int:session_id>/cancel")
@needs("send")
def session_cancel(session_id: int):
    with runtime().db.session() as db:
        row = found(db.get(TrainingSession, session_id))
        if row.cancelled_at is None:
            row.cancelled_at = utcnow()
            audit.record(db, actor(), "session.cancel", f"session {row.id}", _title(row))
    reminder_jobs.schedule(services(), session_id)  # its reminders are withdrawn
    return redirect(url_for("dashboard.session", session_id=session_id))
