"""Broadcasts: write a text per language for an audience (with a live count), see
the preview (recipients, encoding, segments, cost, time), send after a
confirmation, and watch it go out (a bar that moves without reloading) or cancel.

The counter on the composer is JavaScript (``static/dashboard.js``) fed with the
server's own alphabet (``gateway.encoding``); the preview after it is the server's
own count, member by member. A test types into the page and checks both agree.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import (
    Pages,
    actor,
    audience_from,
    choices,
    csv_download,
    found,
    language,
    member_languages,
    said_from,
    say,
    services,
    take_draft,
)
from gateway import broker
from gateway.encoding import GSM7_BASIC, GSM7_EXTENDED
from gateway.errors import InputProblem
from gateway.outage import is_outage
from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.phone import mask
from gateway.runtime import runtime
from gateway.store import audit, schedule
from gateway.store.models import Broadcast, Member, Poll, utcnow
from gateway.store.states import BroadcastState
from gateway.store.users import can

REMAINING = ("queued", "sending", "waiting")


def alphabet() -> str:
    """The GSM-7 alphabet as the counter needs it: one JSON object from the same sets
    the server counts with, so the two cannot drift apart."""
    return json.dumps(
        {"basic": "".join(sorted(GSM7_BASIC)), "extended": "".join(sorted(GSM7_EXTENDED))}, ensure_ascii=False
    )


def session_choices() -> list[tuple[int, str]]:
    with runtime().db.session() as db:
        return [
            (
                row.id,
                f"{row.titles.get(language()) or next(iter(row.titles.values()), '')} "
                f"({row.starts_at.astimezone(_zone()):%d/%m})",
            )
            for row in schedule.upcoming(db)[:50]
            if row.cancelled_at is None
        ]


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_app.config["GATEWAY"].timezone)


@bp.get("/broadcasts")
@needs("read")
def broadcasts_list():
    with runtime().db.session() as db:
        rows = []
        for row in db.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(100)):
            counts = broadcasts.progress(db, row.id)
            rows.append(
                (
                    row.id,
                    row.name,
                    row.status,
                    row.created_at,
                    sum(counts.values()),
                    counts["sent"] + counts["delivered"],
                    counts["failed"],
                    sum(counts[s] for s in REMAINING),
                )
            )
    return render_template("dashboard/broadcasts.html", rows=rows, status_names=status_names())


# Names the gateway gives the messages it makes itself, said in her language when
# shown; a name an organiser typed is shown as she typed it.
_MADE_NAMES = [
    (re.compile(r"poll (?P<code>\w+)"), lambda m: _("Poll %(code)s", code=m["code"])),
    (
        re.compile(r"reminder: (?P<title>.*) \((?P<n>\d+) min before\)"),
        lambda m: _("Reminder %(hours)s h before: %(title)s", hours=format_decimal(int(m["n"]) / 60), title=m["title"]),
    ),
    (
        re.compile(r"quiz (?P<name>\S+) after session (?P<id>\d+)"),
        lambda m: _("Quiz invitation after session %(number)s", number=m["id"]),
    ),
    (
        re.compile(r"survey (?P<name>\S+) after session (?P<id>\d+)"),
        lambda m: _("Survey invitation after session %(number)s", number=m["id"]),
    ),
]


@bp.app_template_filter("broadcast_name")
def broadcast_name(name: str | None, broadcast_id: int | None = None) -> str:
    return said_from(_MADE_NAMES, name) or name or _("Message %(number)s", number=broadcast_id)


def status_names() -> dict[str, str]:
    return {"draft": _("not sent"), "sending": _("sending"), "done": _("finished"), "cancelled": _("cancelled")}


def _composer(values, error: str | None = None, status: int = 200):
    config = current_app.config["GATEWAY"]
    return render_template(
        "dashboard/broadcast_new.html",
        values=values,
        error=error,
        alphabet=alphabet(),
        price=float(config.price_per_segment),
        currency=config.price_currency,
        topics=choices("topics"),
        provinces=choices("provinces"),
        languages=choices("languages"),
        sessions=session_choices(),
    ), status


@bp.get("/broadcasts/new")
@needs("send")
def broadcast_new():
    return _composer(take_draft() or MultiDict())


@bp.post("/broadcasts/new")
@needs("send")
def broadcast_new_post():
    form = request.form
    try:
        texts = broadcasts.check_texts(
            {lang: form.get(f"text_{lang}", "") for lang, _name in member_languages()}, services().catalog.languages
        )
    except InputProblem as problem:
        return _composer(form, say(problem), 400)
    audience = audience_from(form)
    with runtime().db.session() as db:
        if not db.scalar(select(func.count()).select_from(audience.select(Member.id).subquery())):
            return _composer(form, _("Nobody is in this audience. Choose fewer filters."), 400)
        row = broadcasts.create(db, texts, audience, form.get("name", "").strip()[:120], audience.session_id)
        problem = broadcasts.preview_of(db, row, services().catalog, services().config).problem()
        if problem is not None:  # a blank in someone's text: nothing is kept, what she typed comes back
            db.rollback()
            return _composer(form, say(problem), 400)
        audit.record(db, actor(), "broadcast.create", f"broadcast {row.id}", row.name or None)
        broadcast_id = row.id
    return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))


@bp.get("/broadcasts/audience")
@needs("read")
def audience_count():
    """How many the audience reaches, in all and by language (the composer's live count)."""
    audience = audience_from(request.args)
    query = audience.select(Member.language).order_by(None).subquery()
    with runtime().db.session() as db:
        by_language = dict(db.execute(select(query.c.language, func.count()).group_by(query.c.language)).all())
    total = sum(by_language.values())
    return jsonify(total=total, by_language=by_language, text=_("%(count)s recipients", count=f"{total:,}"))


@bp.get("/broadcasts/<int:broadcast_id>")
@needs("read")
def broadcast(broadcast_id: int):
    app_services = services()
    with runtime().db.session() as db:
        row = found(db.get(Broadcast, broadcast_id))
        preparing = row.status == BroadcastState.DRAFT and _preparing(broadcast_id)
        preview = (
            broadcasts.preview_of(db, row, services().catalog, services().config)
            if row.status == BroadcastState.DRAFT
            else None
        )
        detail = {
            "id": row.id,
            "name": row.name,
            "status": row.status,
            "texts": dict(row.texts),
            "audience": _describe(Audience.from_dict(row.audience)),
            "created_at": row.created_at,
        }
    minutes = None
    if preview is not None and preview.recipients:
        minutes = app_services.provider.minutes_for(preview.recipients)
    problem = preview.problem() if preview is not None else None
    return render_template(
        "dashboard/broadcast.html",
        row=detail,
        preview=preview,
        minutes=minutes,
        problem=say(problem) if problem is not None else None,
        preparing=preparing,
        waits=waits(),
        may_urgent=can(g.user, "urgent"),
        progress=_progress(broadcast_id),
        language_names=dict(choices("languages")),
    )


def waits() -> str | None:
    """ "Quiet hours: it waits until 07:00 tomorrow", when it would, in her language."""
    config = services().config
    now = utcnow()
    when = broadcasts.next_allowed(now, config.quiet_window(), config.timezone)
    if when is None:
        return None
    today = now.astimezone(ZoneInfo(config.timezone)).date()
    day = (
        _("today")
        if when.date() == today
        else _("tomorrow")
        if when.date() == today + timedelta(days=1)
        else format_date(when, "medium")
    )
    return _("Quiet hours: it waits until %(time)s %(day)s.", time=when.strftime("%H:%M"), day=day)


def _describe(audience: Audience) -> str:
    parts = []
    for title, list_name, keys in (
        (_("Topics"), "topics", audience.topics),
        (_("Provinces"), "provinces", audience.provinces),
        (_("Languages"), "languages", audience.languages),
    ):
        if keys:
            names = dict(choices(list_name))
            parts.append(f"{title}: " + ", ".join(names.get(k, k) for k in keys))
    if audience.session_id:
        parts.append(_("enrolled in session %(id)s", id=audience.session_id))
    return "; ".join(parts) or _("all registered members")


@bp.post("/broadcasts/<int:broadcast_id>/send")
@needs("send")
def broadcast_send(broadcast_id: int):
    with runtime().db.session() as db:
        row = found(db.get(Broadcast, broadcast_id))
        if row.status != BroadcastState.DRAFT:  # a second click, or another tab: it is already going
            return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
    if request.form.get("confirm") != "yes":
        return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
    with runtime().db.session() as db:
        # A poll's question waits for the poll to open, and a closed poll's is not sent.
        poll = db.scalar(select(Poll).where(Poll.broadcast_id == broadcast_id))
        opens_at = poll.opens_at if poll is not None else None
        if poll is not None and (poll.closed_at is not None or poll.closes_at <= utcnow()):
            return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
    urgent = request.form.get("urgent") == "yes" and can(g.user, "urgent") and waits() is not None
    if _preparing(broadcast_id):  # a second click while a worker writes it
        return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
    with runtime().db.session() as db:
        audience = Audience.from_dict(db.get(Broadcast, broadcast_id).audience)
        recipients = db.scalar(select(func.count()).select_from(audience.select(Member.id).order_by(None).subquery()))
    if recipients > PREPARE_HERE_UP_TO:
        app_services = services()
        broker.enqueue(
            app_services.queues["default"],
            "prepare_broadcast",
            broadcast_id,
            opens_at.isoformat() if opens_at else None,
            urgent,
            config=app_services.config,
            job_id=_prepare_job(broadcast_id),
        )
        added = recipients
    else:
        try:
            added, _batches, _when = bulk.dispatch(services(), broadcast_id, not_before=opens_at, urgent=urgent)
        except InputProblem:  # a blank since the preview (a member's name gone): the page says which
            return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
    with runtime().db.session() as db:
        audit.record(
            db,
            actor(),
            "broadcast.urgent" if urgent else "broadcast.send",
            f"broadcast {broadcast_id}",
            f"{added} message(s)" + (", sent in quiet hours" if urgent else ""),
        )
    return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@needs("send")
def broadcast_cancel(broadcast_id: int):
    with runtime().db.session() as db:
        row = found(db.get(Broadcast, broadcast_id))
        if row.status != BroadcastState.CANCELLED:
            stopped = broadcasts.cancel(db, row)
            audit.record(
                db, actor(), "broadcast.cancel", f"broadcast {broadcast_id}", f"{stopped} unsent message(s) stopped"
            )
    return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))


# A broadcast to more than this many is prepared by a worker (``jobs.prepare_broadcast``):
# 900,000 members took ~50 s (docs/benchmarks.md), past a web request's 30.
PREPARE_HERE_UP_TO = 20_000


def _prepare_job(broadcast_id: int) -> str:
    return f"prepare-{broadcast_id}"


def _preparing(broadcast_id: int) -> bool:
    """Whether a worker is writing this broadcast's messages now (or will, shortly).
    Without Redis no job can be asked after: the page shows the draft as it is."""
    app_services = services()
    stale = timedelta(seconds=app_services.config.job_stale_after)
    try:
        return broker.is_alive(app_services.redis, _prepare_job(broadcast_id), stale)
    except Exception as exc:
        if not is_outage(exc):
            raise
        return False


def message_states() -> dict[str, str]:
    """What became of one member's message, in her words."""
    return {
        "queued": _("waiting to go"),
        "sending": _("being sent"),
        "waiting": _("a call to try again"),
        "sent": _("sent"),
        "delivered": _("delivered"),
        "failed": _("failed"),
        "unknown": _("may or may not have arrived"),
        "cancelled": _("cancelled"),
    }


def _recipient_rows(broadcast_id: int, status: str | None, paged: bool = False):
    """(the page, or None for every row; the rows): numbers masked for who may not see them."""
    by_number = can(g.user, "see_numbers")
    with runtime().db.session() as db:
        found(db.get(Broadcast, broadcast_id))
        query = broadcasts.recipients(db, broadcast_id, status)
        pages = None
        if paged:
            pages = Pages.of(db.scalar(select(func.count()).select_from(query.order_by(None).subquery())))
            query = query.limit(pages.size).offset(pages.offset)
        rows = [
            {
                "id": r.id,
                "name": r.name or "—",
                "phone": (r.phone if by_number else mask(r.phone)) or "—",
                "language": r.language,
                "channel": r.channel,
                "status": r.status,
                "error": r.error,
                "at": r.updated_at,
            }
            for r in db.execute(query)
        ]
    return pages, rows


@bp.get("/broadcasts/<int:broadcast_id>/recipients")
@needs("read")
def broadcast_recipients(broadcast_id: int):
    """Who it went to and what became of each (numbers masked for viewers)."""
    status = request.args.get("status") if request.args.get("status") in message_states() else None
    pages, rows = _recipient_rows(broadcast_id, status, paged=True)
    return render_template(
        "dashboard/broadcast_recipients.html",
        broadcast_id=broadcast_id,
        rows=rows,
        pages=pages,
        status=status,
        states=message_states(),
        progress=_progress(broadcast_id),
        language_names=dict(choices("languages")),
        query={"broadcast_id": broadcast_id, **({"status": status} if status else {})},
    )


@bp.get("/broadcasts/<int:broadcast_id>/recipients.csv")
@needs("read")
def broadcast_recipients_csv(broadcast_id: int):
    status = request.args.get("status") if request.args.get("status") in message_states() else None
    _pages, rows = _recipient_rows(broadcast_id, status)
    states, names, zone = message_states(), dict(choices("languages")), ZoneInfo(services().config.timezone)
    table = [[_("Name"), _("Phone"), _("Language"), _("Channel"), _("Status"), _("Reason"), _("Time")]]
    table += [
        [
            r["name"],
            r["phone"],
            names.get(r["language"], r["language"]),
            "SMS" if r["channel"] == "sms" else _("call"),
            states.get(r["status"], r["status"]),
            r["error"] or "",
            r["at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        ]
        for r in rows
    ]
    return csv_download(table, f"broadcast-{broadcast_id}-recipients.csv")


@bp.post("/broadcasts/<int:broadcast_id>/resend-failed")
@needs("send")
def broadcast_resend_failed(broadcast_id: int):
    """The failed ones, once more (not the unknown: some of those arrived)."""
    with runtime().db.session() as db:
        row = found(db.get(Broadcast, broadcast_id))
        if row.status == BroadcastState.CANCELLED or row.status == BroadcastState.DRAFT:
            return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
        requeued = broadcasts.requeue_failed(db, broadcast_id)
        audit.record(db, actor(), "broadcast.resend_failed", f"broadcast {broadcast_id}", f"{requeued} message(s)")
    if requeued:
        bulk.dispatch(services(), broadcast_id)
    return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))


@bp.post("/broadcasts/<int:broadcast_id>/delete")
@needs("send")
def broadcast_delete(broadcast_id: int):
    """A draft she will not send: gone, audited. A sent one stays (its rows are the
    record), as does one a worker is preparing to send."""
    if _preparing(broadcast_id):
        return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
    with runtime().db.session() as db:
        row = found(db.get(Broadcast, broadcast_id))
        if row.status != BroadcastState.DRAFT or db.scalar(select(Poll.id).where(Poll.broadcast_id == broadcast_id)):
            return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id))
        db.delete(row)
        audit.record(db, actor(), "broadcast.delete", f"broadcast {broadcast_id}", row.name or None)
    return redirect(url_for("dashboard.broadcasts_list"))


@bp.get("/broadcasts/<int:broadcast_id>/progress")
@needs("read")
def broadcast_progress(broadcast_id: int):
    return jsonify(_progress(broadcast_id))


def _progress(broadcast_id: int) -> dict:
    """Sent, failed and remaining, with a time to finish from the pace so far."""
    with runtime().db.session() as db:
        row = found(db.get(Broadcast, broadcast_id))
        counts = broadcasts.progress(db, broadcast_id)
        status, started, send_after = row.status, row.started_at, row.send_after
    total = sum(counts.values())
    sent = counts["sent"] + counts["delivered"]
    remaining = sum(counts[s] for s in REMAINING)
    done = total - remaining
    eta = None
    if status == "sending" and remaining and done and started is not None:
        elapsed = (utcnow() - max(started, send_after or started)).total_seconds()
        if elapsed > 0:
            eta = round(remaining * elapsed / done)
    finished = status == "cancelled" or (status != "draft" and total > 0 and remaining == 0)
    waiting_until = send_after.isoformat() if send_after and send_after > utcnow() else None
    return {
        "status": status,
        "total": total,
        "sent": sent,
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
        "cancelled": counts["cancelled"],
        "remaining": remaining,
        "percent": round(100 * done / total, 1) if total else 0,
        "eta_seconds": eta,
        "finished": finished,
        "waiting_until": waiting_until,
    }
