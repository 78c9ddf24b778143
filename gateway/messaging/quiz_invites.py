"""A quiz that follows a session: when the session ends, its members get a text
inviting them to it, in the session's language.

The reconciler asks every minute (``due``): published quizzes with a ``session``,
open today, whose session ended within ``WITHIN`` and was not cancelled. Each
becomes one broadcast to the members who signed up, named for the quiz and the
session, so that it is sent once: a Redis claim decides between hosts running the
reconciler at the same moment, and the broadcast's name between runs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from gateway.content import quiz
from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.services import Services
from gateway.store.models import Broadcast, TrainingSession, utcnow
from gateway.store.schedule import audience_languages

log = logging.getLogger(__name__)
WITHIN = timedelta(days=3)  # a quiz tied to a session long over is not announced
CLAIM_S = 7 * 86400


def _name(quiz: str, session_id: int) -> str:
    return f"quiz {quiz} after session {session_id}"


def due(services: Services) -> list[int]:
    """Send the invitations now due; return their broadcasts' ids."""
    catalog = services.catalog
    now = utcnow()
    listed = [entry for entry in quiz.open_on(quiz.listed(services.book), now.astimezone(catalog.zone).date().isoformat())
              if entry.get("session")]
    sent = []
    for entry in listed:
        name = _name(entry["quiz"], entry["session"])
        with services.db.session() as db:
            session = db.get(TrainingSession, entry["session"])
            if session is None or session.cancelled_at is not None:
                continue
            ended = session.starts_at + timedelta(minutes=session.duration_minutes)
            if not now - WITHIN <= ended <= now:
                continue
            if db.scalar(select(Broadcast.id).where(Broadcast.name == name)) is not None:
                continue
            if not services.redis.set(f"quiz:invite:{entry['quiz']}:{session.id}", 1, nx=True, ex=CLAIM_S):
                continue  # another host's reconciler is sending it
            langs = audience_languages(session) or tuple(catalog.languages)
            title = {lang: catalog.template(lang, entry["title"]).replace("{", "{{").replace("}", "}}")
                     for lang in langs}
            texts = {lang: catalog.template(lang, "quiz.invite").replace("{quiz}", title[lang]) for lang in langs}
            row = broadcasts.create(db, texts, Audience(session_id=session.id), name, session_id=session.id)
            broadcast_id = row.id
        bulk.dispatch(services, broadcast_id)
        log.info("quiz %s: invitation sent to the members of session %s", entry["quiz"], entry["session"])
        sent.append(broadcast_id)
    return sent
