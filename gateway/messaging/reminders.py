"""Session reminders: rows kept in step with their session, fired as broadcasts.

``sync`` is called whenever a session is added, edited or cancelled. It makes one
row per configured offset (REMINDER_OFFSETS, default one day and one hour before),
moves ``due_at`` when the session moves, and cancels the rows when the session is
cancelled. A reminder due in the past when its session is added is ``missed``.

A session that asks for feedback (``feedback_after_minutes``) gets one more row
of kind ``feedback``, due that long after the session ends; its offset is
negative (after the start).

Firing claims the row (``scheduled`` -> ``firing``) so it happens once, then sends
a broadcast to the session's topic group, each member in their own language; a
feedback row instead opens a feedback poll for the members enrolled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway import broker
from gateway.content.prompts import Catalog
from gateway.errors import InputProblem
from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.polls import poll as polls
from gateway.services import Services
from gateway.store.models import Broadcast, Member, OutboundMessage, Reminder, TrainingSession, utcnow
from gateway.store.schedule import audience_languages
from gateway.store.states import ReminderState

# A trigger this early (clock skew between machines) still counts as due.
EARLY_S = 60


def sync(db: Session, session: TrainingSession, offsets: list[int], now: datetime | None = None) -> list[Reminder]:
    """Create, move or cancel ``session``'s reminders; return the scheduled ones."""
    now = now or utcnow()
    existing = {r.offset_minutes: r for r in db.scalars(select(Reminder).where(Reminder.session_id == session.id))}
    scheduled = []
    wanted = [(offset, "reminder") for offset in offsets]
    if session.feedback_after_minutes is not None:
        wanted.append((-(session.duration_minutes + session.feedback_after_minutes), "feedback"))
    for offset, kind in wanted:
        due = session.starts_at - timedelta(minutes=offset)
        row = existing.pop(offset, None)
        if row is None:
            row = Reminder(session_id=session.id, offset_minutes=offset, due_at=due, kind=kind)
            db.add(row)
        elif row.status == ReminderState.FIRING:
            continue  # being turned into a broadcast right now
        elif row.status == ReminderState.SENT:
            if not _withdraw(db, row, session, due):
                continue  # already handed to the provider; nothing to take back
        row.due_at = due
        if session.cancelled_at is not None:
            row.status = ReminderState.CANCELLED
        elif due <= now:
            row.status = ReminderState.MISSED
        else:
            row.status = ReminderState.SCHEDULED
            scheduled.append(row)
    for row in existing.values():  # an offset no longer configured
        if row.status == ReminderState.SCHEDULED:
            row.status = ReminderState.CANCELLED
    db.flush()
    return scheduled


def _withdraw(db: Session, row: Reminder, session: TrainingSession, due: datetime) -> bool:
    """A reminder broadcast still waiting (e.g. for quiet hours to end) is cancelled
    when its session is cancelled or moved, so no one gets a stale time. True if
    the reminder may be scheduled afresh."""
    if row.broadcast_id is None:
        return False
    unchanged = row.due_at == due and session.cancelled_at is None
    left = broadcasts.progress(db, row.broadcast_id)
    waiting = left["queued"] + left["waiting"]
    if unchanged or not waiting:
        return False
    broadcasts.cancel(db, db.get(Broadcast, row.broadcast_id))
    row.broadcast_id = None
    return True


def due(db: Session, now: datetime | None = None) -> list[int]:
    """Scheduled reminders whose time has come (for the reconciler)."""
    now = now or utcnow()
    return list(
        db.scalars(
            select(Reminder.id).where(
                Reminder.status == ReminderState.SCHEDULED, Reminder.due_at <= now + timedelta(seconds=EARLY_S)
            )
        )
    )


def claim(db: Session, reminder_id: int, now: datetime | None = None) -> Reminder | None:
    now = now or utcnow()
    won = db.execute(
        update(Reminder)
        .where(
            Reminder.id == reminder_id,
            Reminder.status == ReminderState.SCHEDULED,
            Reminder.due_at <= now + timedelta(seconds=EARLY_S),
        )
        .values(status=ReminderState.FIRING)
    ).rowcount
    return db.get(Reminder, reminder_id) if won == 1 else None


def create_broadcast(db: Session, reminder: Reminder, catalog: Catalog, feedback_open_minutes: int) -> int:
    session = db.get(TrainingSession, reminder.session_id)
    if reminder.kind == "feedback":
        poll = polls.feedback_poll(db, session, catalog, timedelta(minutes=feedback_open_minutes))
        row = polls.start_broadcast(db, poll, catalog)
        reminder.broadcast_id, reminder.status = row.id, ReminderState.SENT
        return row.id
    texts, audience = _message(session, catalog)
    # The session's title in its own language: the name organisers see in the list.
    title = session.titles.get(session.language) or next(iter(session.titles.values()))
    row = broadcasts.create(
        db, texts, audience, f"reminder: {title} ({reminder.offset_minutes} min before)", session_id=session.id
    )
    row.by_preference = True  # a member who asked for calls gets a reminder call
    reminder.broadcast_id, reminder.status = row.id, ReminderState.SENT
    return row.id


def shared_texts(catalog: Catalog, languages) -> dict[str, str]:
    """The shared reminder text in each language: what a session says unless it has its own."""
    return {lang: catalog.template(lang, "reminder.text") for lang in languages}


def check_own_texts(texts: dict[str, str], catalog: Catalog) -> dict[str, str] | None:
    """A session's own reminder wording as the form gave it: None when it is the shared
    text (so a change on the Content page still reaches it); else checked as a
    broadcast's text is. {name} is refused: a reminder goes to members who may have none."""
    shared = shared_texts(catalog, texts)
    own = {lang: text for lang, text in texts.items() if text.strip() and text.strip() != shared[lang].strip()}
    if not own:
        return None
    checked = broadcasts.check_texts(own, catalog.languages)
    if any("{name}" in text for text in checked.values()):
        raise InputProblem("a reminder cannot use {name}: it goes to members who may have no name")
    return checked


def _message(session: TrainingSession, catalog: Catalog) -> tuple[dict[str, str], Audience]:
    """A session's reminder: its text in each language (its own wording where it has
    one, else the shared reminder text), and who gets it."""
    own = session.reminder_texts or {}
    texts = {lang: own.get(lang) or catalog.template(lang, "reminder.text") for lang in catalog.languages}
    return texts, Audience(topics=(session.topic,), languages=audience_languages(session))


@dataclass
class Recipients:
    """Who a reminder reaches in one language, how, and the very text they get."""

    language: str
    members: int
    by_sms: int
    by_call: int
    text: str


def recipients(db: Session, session: TrainingSession, catalog: Catalog, default_language: str) -> list[Recipients]:
    """What a session's reminders will say, to whom, by language: the same texts and
    audience ``create_broadcast`` uses, rendered for this session (a call reads the
    ``reminder.call`` screen instead)."""
    texts, audience = _message(session, catalog)
    renderer = broadcasts.Renderer(texts, default_language, catalog, session)
    query = audience.select(Member.language, Member.reminder_channel).order_by(None).subquery()
    found: dict[str, Recipients] = {}
    for language, channel, count in db.execute(
        select(query.c.language, query.c.reminder_channel, func.count()).group_by(
            query.c.language, query.c.reminder_channel
        )
    ):
        lang = renderer.language_for(language)
        entry = found.setdefault(
            lang, Recipients(lang, 0, 0, 0, renderer.body(SimpleNamespace(name="", language=lang)))
        )
        entry.members += count
        if channel == "voice":
            entry.by_call += count
        else:
            entry.by_sms += count
    return sorted(found.values(), key=lambda entry: entry.language != default_language)


def session_for_message(db: Session, message_id) -> TrainingSession | None:
    """The session an outbox row (a reminder call) is about."""
    if not isinstance(message_id, int):
        return None
    row = db.get(OutboundMessage, message_id)
    broadcast = db.get(Broadcast, row.broadcast_id) if row is not None and row.broadcast_id else None
    return db.get(TrainingSession, broadcast.session_id) if broadcast and broadcast.session_id else None


# ------------------------------------------------------------------ triggers


def schedule(services: Services, session_id: int) -> list[int]:
    """Bring the session's reminders in step with it and queue their triggers."""
    config = services.config
    with services.db.session() as db:
        session = db.get(TrainingSession, session_id)
        scheduled = [(r.id, r.due_at) for r in sync(db, session, config.reminder_minutes())]
    for reminder_id, due_at in scheduled:
        broker.enqueue(services.queues["default"], "fire_reminder", reminder_id, config=config, at=due_at)
    return [reminder_id for reminder_id, _ in scheduled]


def fire(services: Services, reminder_id: int) -> str:
    """Send one reminder, once. A trigger for a moved or cancelled reminder does nothing."""
    with services.db.session() as db:
        reminder = claim(db, reminder_id)
        if reminder is None:
            return "not due, already sent, or cancelled"
        broadcast_id = create_broadcast(db, reminder, services.catalog, services.config.feedback_open_minutes())
    bulk.dispatch(services, broadcast_id)
    return f"broadcast {broadcast_id}"
