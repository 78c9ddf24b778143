"""Closing surveys: on their last day's end, or when an organiser closes one.

The reconciler asks every minute (``due``). A closed survey leaves the members'
list. A sensitive one keeps its totals, groups of fewer than five hidden and
short texts counted but not kept; its answers and their link to the member are
deleted from the database, and every conversation in Redis still holding it
(a session on its screens, a resume slot, an SMS conversation, with what she
typed) is deleted too. A sensitive survey taken out of the content while open is
closed the same way, from the last version that had it.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select

from gateway import broker
from gateway.content import survey
from gateway.content.flows import Problem
from gateway.polls import survey_report
from gateway.services import Services
from gateway.store import content as versions
from gateway.store import surveys
from gateway.store.models import ContentDocument, ContentVersion, SurveyClosure, SurveyResponse, utcnow

log = logging.getLogger(__name__)
SCHEDULE = "schedule"  # the actor of a close by date
# A hop already under way when a survey closed may write its conversation back
# after the sweep; it can keep only what she typed last (the survey refuses her
# answers once closed), and only until its session expires. Sweeping again for
# this long after a close clears that too.
SWEEP_AGAIN = timedelta(minutes=30)


def due(services: Services) -> list[str]:
    """Close the surveys whose last day is over, and sensitive answers to a survey
    no longer published; return their names."""
    today = utcnow().astimezone(services.catalog.zone).date()
    entries = {entry["survey"]: entry for entry in survey.listed(services.book)}
    over = [
        name for name, entry in entries.items() if entry.get("closes") and date.fromisoformat(entry["closes"]) < today
    ]
    with services.db.session() as db:
        done = surveys.closed(db, over)
        orphans = _orphans(db, entries)  # (closed ones are not orphans)
    closed = []
    for name in [n for n in over if n not in done] + orphans:
        if close(services, name, SCHEDULE) is not None:
            closed.append(name)
    with services.db.session() as db:
        recent = list(
            db.scalars(
                select(SurveyClosure.survey).where(
                    SurveyClosure.sensitive.is_(True), SurveyClosure.closed_at > utcnow() - SWEEP_AGAIN
                )
            )
        )
    for name in recent:
        forget(services, name)
    return closed


def _orphans(db, entries: dict) -> list[str]:
    """Surveys with sensitive answers, not closed, that the published content no longer has."""
    names = set(db.scalars(select(SurveyResponse.survey).where(SurveyResponse.sensitive.is_(True)).distinct()))
    closed = set(db.scalars(select(SurveyClosure.survey).where(SurveyClosure.survey.in_(names)))) if names else set()
    return sorted(names - closed - set(entries))


def entry_of(services: Services, name: str) -> dict | None:
    """What survey ``name`` asks: from the published content, or else from the last
    version that had it."""
    for entry in survey.listed(services.book):
        if entry["survey"] == name:
            return entry
    document = f"surveys/{name}.yaml"
    with services.db.session() as db:
        body = db.scalar(
            select(ContentDocument.body)
            .join(ContentVersion, ContentVersion.id == ContentDocument.version_id)
            .where(ContentDocument.name == document, ContentVersion.status != versions.DRAFT)
            .order_by(ContentVersion.id.desc())
            .limit(1)
        )
    problems: list[Problem] = []
    found = survey.read(document, body, problems) if body else None
    if found is None:
        return None
    return {"survey": name, "kinds": list(found.kinds), "options": list(found.options), "sensitive": found.sensitive}


def close(services: Services, name: str, actor: str) -> SurveyClosure | None:
    """Close survey ``name`` now; None if it was closed already (or is unknown)."""
    entry = entry_of(services, name)
    with services.db.session() as db:
        rows = surveys.responses(db, name)
        if entry is None and not rows:
            return None
        sensitive = bool(entry and entry.get("sensitive")) or surveys.is_sensitive(db, name)
        results = None
        if sensitive and entry is not None:
            results = survey_report.compute(name, entry, rows, sensitive=True)
            for question in results["questions"]:
                if question["kind"] == "text":  # counted, not kept: a typed text is a raw answer
                    question["texts"] = []
        row = surveys.close(db, name, sensitive, results, actor, utcnow())
        if row is None:
            return None
        db.flush()
        db.expunge(row)
    if sensitive:
        gone = forget(services, name)
        log.info("survey %s closed: answers deleted, %d conversation(s) in Redis cleared", name, gone)
    return row


def forget(services: Services, name: str) -> int:
    """Delete every Redis record of a conversation on survey ``name``'s screens: its
    answers wait there (and what she last typed) until the survey saves them."""
    return broker.forget(services.redis, f'"{survey.flow_name(name)}"')
