"""The first page: who the members are, what is coming, what went out, what is open."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import get_locale
from sqlalchemy import func, select

from gateway.dashboard.auth import bp, needs
from gateway.messaging import broadcasts
from gateway.runtime import runtime
from gateway.store import schedule
from gateway.store.models import Broadcast, Member, MemberTopic, Poll, utcnow


@bp.get("/")
@needs("read")
def overview():
    lang = str(get_locale() or "lo")
    catalog = runtime().services.catalog
    registered = (Member.consent_at.is_not(None), Member.erased_at.is_(None))
    now = utcnow()
    with runtime().db.session() as db:
        total = db.scalar(select(func.count()).select_from(Member).where(*registered)) or 0
        by_province = db.execute(
            select(Member.province, func.count())
            .where(*registered)
            .group_by(Member.province)
            .order_by(func.count().desc())
        ).all()
        by_language = db.execute(
            select(Member.language, func.count()).where(*registered).group_by(Member.language)
        ).all()
        by_topic = db.execute(
            select(MemberTopic.topic, func.count())
            .join(Member)
            .where(*registered)
            .group_by(MemberTopic.topic)
            .order_by(func.count().desc())
        ).all()
        upcoming = [
            (
                row.starts_at,
                catalog.template(lang, f"kind.{row.kind}"),
                row.titles.get(lang) or next(iter(row.titles.values()), ""),
                row.language,
            )
            for row in schedule.upcoming(db, now)[:8]
            if row.cancelled_at is None
        ]
        recent = []
        for row in db.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(5)):
            counts = broadcasts.progress(db, row.id)
            total_rows = sum(counts.values())
            reached = counts["sent"] + counts["delivered"]
            recent.append((row, total_rows, reached, counts["delivered"], counts["failed"]))
        polls = list(
            db.scalars(select(Poll).where(Poll.closed_at.is_(None), Poll.closes_at > now).order_by(Poll.closes_at))
        )
        open_polls = [
            (poll.code, poll.questions.get(lang) or next(iter(poll.questions.values()), ""), poll.closes_at)
            for poll in polls
        ]

    def label(kind: str, key: str | None) -> str:
        return catalog.template(lang, f"{kind}.{key}") if key else "—"

    return render_template(
        "dashboard/overview.html",
        total=total,
        by_province=[(label("province", p), n) for p, n in by_province],
        by_language=[(label("lang", code), n) for code, n in by_language],
        by_topic=[(label("topic", t), n) for t, n in by_topic],
        upcoming=upcoming,
        recent=recent,
        open_polls=open_polls,
        zone=current_app.config["GATEWAY"].timezone,
    )
