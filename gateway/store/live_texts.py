"""Live texts: words organisers write that a call speaks, recorded when they are made.

No text-to-speech reads Lao, so a Lao reminder call can say a session's title only
from a recording of it. Each live text has a recording key and a number an organiser
types to record it by phone. Numbers are fixed by the row's id, so a printed list
stays right: session 12's title is 10121; poll 3's question is 20030 and its
answers 20031, 20032 ... (The flows' own prompts are numbered 1 to a few hundred;
see ``content.prompt_audit``.) A session's place is not among them: calls do not
say it (where and how to join goes to her by SMS).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import Poll, TrainingSession, utcnow

SESSIONS, POLLS = 10000, 20000


@dataclass(frozen=True)
class LiveText:
    number: int
    key: str  # live.session.12.title
    texts: dict  # {"lo": "...", "en": "..."}
    where: str


def session_title_key(session_id: int) -> str:
    return f"live.session.{session_id}.title"


def poll_question_key(poll_id: int) -> str:
    return f"live.poll.{poll_id}.question"


def poll_option_key(poll_id: int, option: int) -> str:
    return f"live.poll.{poll_id}.option{option}"


def for_session(row: TrainingSession) -> list[LiveText]:
    return [
        LiveText(SESSIONS + row.id * 10 + 1, session_title_key(row.id), dict(row.titles), f"session {row.id}: title")
    ]


def for_poll(row: Poll) -> list[LiveText]:
    texts = [
        LiveText(POLLS + row.id * 10, poll_question_key(row.id), dict(row.questions), f"poll {row.code}: question")
    ]
    texts += [
        LiveText(POLLS + row.id * 10 + n, poll_option_key(row.id, n), dict(option), f"poll {row.code}: answer {n}")
        for n, option in enumerate(row.options, start=1)
    ]
    return texts


def current(db: Session) -> list[LiveText]:
    """The live texts calls may speak now: upcoming sessions and polls still open."""
    now = utcnow()
    texts: list[LiveText] = []
    for row in db.scalars(
        select(TrainingSession)
        .where(TrainingSession.starts_at >= now, TrainingSession.cancelled_at.is_(None))
        .order_by(TrainingSession.id)
    ):
        texts += for_session(row)
    for row in db.scalars(select(Poll).where(Poll.closed_at.is_(None), Poll.closes_at > now).order_by(Poll.id)):
        texts += for_poll(row)
    return texts


def by_number(db: Session, number: int) -> LiveText | None:
    """The live text an organiser typed the number of (any session or poll, even past)."""
    if SESSIONS < number < POLLS:
        row = db.get(TrainingSession, (number - SESSIONS) // 10)
        found = for_session(row) if row is not None else []
    elif number >= POLLS:
        row = db.get(Poll, (number - POLLS) // 10)
        found = for_poll(row) if row is not None else []
    else:
        return None
    return next((text for text in found if text.number == number), None)


def by_key(db: Session, key: str) -> LiveText | None:
    """The live text a recording key names (``live.session.12.title``), if its row exists."""
    parts = key.split(".")
    if len(parts) != 4 or parts[0] != "live" or not parts[2].isdigit():
        return None
    row_id = int(parts[2])
    if parts[1] == "session":
        row = db.get(TrainingSession, row_id)
        found = for_session(row) if row is not None else []
    elif parts[1] == "poll":
        row = db.get(Poll, row_id)
        found = for_poll(row) if row is not None else []
    else:
        return None
    return next((text for text in found if text.key == key), None)
