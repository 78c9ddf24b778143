"""A quiz or survey that follows a session: when the session ends, its members get
a text inviting them to it, in the session's language.

The reconciler asks every minute (``due``): published quizzes and surveys with a ``session``,
open today, whose session ended within ``WITHIN`` and was not cancelled. Each
becomes one broadcast to the members who signed up, named for it and the
session, so that it is sent once: a Redis claim decides between hosts running the
reconciler at the same moment, and the broadcast's name between runs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from gateway.content import quiz, survey
from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.services import Services
from gateway.store.models import Broadcast, TrainingSession, utcnow
from gateway.store import surveys
from gateway.store.schedule import audience_languages

log = logging.getLogger(__name__)
WITHIN = timedelta(days=3)  # one tied to a session long over is not announced
CLAIM_S = 7 * 86400


def _name(kind: str, name: str, session_id: int) -> str:
    return f"{kind} {name} after session {session_id}"


def due(services: Services) -> list[int]:
    """Send the invitations now due; return their broadcasts' ids."""
    catalog = services.catalog
    now = utcnow()
    today = now.astimezone(catalog.zone).date().isoformat()
    listed = [("quiz", entry["quiz"], entry) for entry in quiz.listed(services.book)] + [
        ("survey", entry["survey"], entry) for entry in survey.listed(services.book)
    ]
    sent = []
    for kind, thing, entry in listed:
        if not entry.get("session") or not quiz.open_on([entry], today):
            continue
        name = _name(kind, thing, entry["session"])
        with services.db.session() as db:
            session = db.get(TrainingSession, entry["session"])
            if session is None or session.cancelled_at is not None:
                continue
            ended = session.starts_at + timedelta(minutes=session.duration_minutes)
            if not now - WITHIN <= ended <= now:
                continue
            if db.scalar(select(Broadcast.id).where(Broadcast.name == name)) is not None:
                continue
            if kind == "survey" and surveys.closure(db, thing) is not None:
                continue  # an organiser closed it early
            if not services.redis.set(f"{kind}:invite:{thing}:{session.id}", 1, nx=True, ex=CLAIM_S):
                continue  # another host's reconciler is sending it
            langs = audience_languages(session) or tuple(catalog.languages)
            title = {
                lang: catalog.template(lang, entry["title"]).replace("{", "{{").replace("}", "}}") for lang in langs
            }
            texts = {
                lang: catalog.template(lang, f"{kind}.invite").replace("{" + kind + "}", title[lang]) for lang in langs
            }
            row = broadcasts.create(db, texts, Audience(session_id=session.id), name, session_id=session.id)
            broadcast_id = row.id
        bulk.dispatch(services, broadcast_id)
        log.info("%s %s: invitation sent to the members of session %s", kind, thing, entry["session"])
        sent.append(broadcast_id)
    return sent
