"""Survey answers, written by the ``save_survey`` action, and closing a survey.

Closing a sensitive survey keeps its totals (groups of fewer than five already
hidden) and deletes every answer and its link to the member, in the closing
transaction. ``messaging.survey_closing`` also clears what a conversation still
holds in Redis.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store import audit
from gateway.store.models import Member, SurveyClosure, SurveyResponse


def save(
    db: Session, survey: str, member: Member | None, answers: list[Any], sensitive: bool, channel: str, now: datetime
) -> None:
    """Her answers; answering again replaces them."""
    row = None
    if member is not None:
        row = db.scalar(
            select(SurveyResponse).where(SurveyResponse.survey == survey, SurveyResponse.member_id == member.id)
        )
    if row is None:
        row = SurveyResponse(survey=survey, member_id=member.id if member else None)
        db.add(row)
    row.sensitive = row.sensitive or sensitive  # once sensitive, her answer stays so
    row.province = member.province if member else None
    row.language = member.language if member else None
    row.channel, row.answers, row.answered_at = channel, list(answers), now
    db.flush()


def closure(db: Session, survey: str) -> SurveyClosure | None:
    return db.get(SurveyClosure, survey)


def closed(db: Session, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are closed."""
    names = list(names)
    if not names:
        return set()
    return set(db.scalars(select(SurveyClosure.survey).where(SurveyClosure.survey.in_(names))))


def responses(db: Session, survey: str) -> list[SurveyResponse]:
    return list(db.scalars(select(SurveyResponse).where(SurveyResponse.survey == survey).order_by(SurveyResponse.id)))


def is_sensitive(db: Session, survey: str) -> bool:
    """Whether any answer was given to it as a sensitive survey (a later edit that
    unmarks it does not make those answers ordinary)."""
    return (
        db.scalar(
            select(SurveyResponse.id)
            .where(SurveyResponse.survey == survey, SurveyResponse.sensitive.is_(True))
            .limit(1)
        )
        is not None
    )


def close(
    db: Session, survey: str, sensitive: bool, results: dict | None, actor: str, now: datetime
) -> SurveyClosure | None:
    """Close ``survey`` once; None when it was closed already. A sensitive one keeps
    ``results`` and loses its answers."""
    if db.get(SurveyClosure, survey) is not None:
        return None
    count = len(responses(db, survey))
    row = SurveyClosure(
        survey=survey,
        closed_at=now,
        actor=actor,
        sensitive=sensitive,
        responses=count,
        results=results if sensitive else None,
    )
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        return None  # closed at this moment by another host
    deleted = 0
    if sensitive:
        deleted = db.execute(delete(SurveyResponse).where(SurveyResponse.survey == survey)).rowcount
    audit.record(
        db,
        actor,
        "survey.close",
        survey,
        f"{count} answer(s); sensitive: totals kept, {deleted} answer(s) deleted"
        if sensitive
        else f"{count} answer(s) kept",
    )
    return row
