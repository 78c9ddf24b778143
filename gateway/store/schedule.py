"""Sessions members can join (hangouts, trainings, community-of-practice meetings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.content.vocabulary import Vocabulary
from gateway.encoding import normalise_lao
from gateway.errors import ImportRowError, InputProblem
from gateway.store.csvfile import checked_rows
from gateway.store.models import Enrolment, Member, Reminder, TrainingSession, utcnow

KINDS = ("hangout", "training", "community_of_practice")
# A session's language: one of the members' languages, or this for a session held in all. One rule
# decides who hears of a session, for Next session and for reminders alike
# (``for_member`` and ``audience_languages``).
BOTH = "all"
_BOTH_WORDS = {"all", "both", "lo+en", "en+lo", "ທັງສອງ", "ທັງສອງພາສາ", "ທຸກພາສາ"}
CSV_COLUMNS = (
    "title_lo",
    "title_en",
    "kind",
    "topic",
    "language",
    "starts_at",
    "duration_minutes",
    "place",
    "join_link",
    "dial_in",
    "capacity",
)


def parse_local_time(text: str, timezone: str) -> datetime:
    """``2026-11-27 14:00`` in the gateway's time zone, or any ISO time with an offset."""
    try:
        when = datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise InputProblem("time %(value)s is not like 2026-11-27 14:00", value=repr(text)) from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(timezone))


def session_fields(values: dict[str, Any], vocabulary: Vocabulary, timezone: str) -> dict:
    """Check and convert one session's fields, raising ValueError with the reason."""
    codes = dict.fromkeys(vocabulary.languages.values())  # the members' languages
    titles = {lang: normalise_lao(str(values.get(f"title_{lang}") or "").strip()) for lang in codes}
    titles = {lang: title for lang, title in titles.items() if title}
    if not titles:
        raise InputProblem(
            "a session needs a title in at least one language (%(columns)s)",
            columns=", ".join(f"title_{lang}" for lang in codes),
        )
    if any(len(title) > 120 for title in titles.values()):
        raise InputProblem("titles must be 120 characters or fewer")
    kind = (values.get("kind") or "hangout").strip()
    if kind not in KINDS:
        raise InputProblem("kind %(value)s is not one of %(choices)s", value=repr(kind), choices=", ".join(KINDS))
    topic = vocabulary.topic(values.get("topic") or "")
    if topic is None:
        raise InputProblem("unknown topic %(value)s", value=repr(values.get("topic")))
    typed = str(values.get("language") or "").strip()
    language = BOTH if typed.casefold() in _BOTH_WORDS else vocabulary.language(typed)
    if language is None:
        raise InputProblem("unknown language %(value)s (use lo, en or all)", value=repr(values.get("language")))
    starts_at = parse_local_time(str(values.get("starts_at") or ""), timezone)
    duration = _whole(values.get("duration_minutes"), "duration_minutes", default=60)
    capacity = _whole(values.get("capacity"), "capacity", default=None)
    place, link, dial_in = (
        normalise_lao(str(values.get(k) or "").strip()) or None for k in ("place", "join_link", "dial_in")
    )
    if not (place or link or dial_in):
        raise InputProblem("say where or how to join: place, join_link or dial_in")
    return {
        "titles": titles,
        "kind": kind,
        "topic": topic,
        "language": language,
        "starts_at": starts_at,
        "duration_minutes": duration,
        "capacity": capacity,
        "place": place,
        "join_link": link,
        "dial_in": dial_in,
    }


def _whole(raw: Any, name: str, default: int | None) -> int | None:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InputProblem("%(name)s %(value)s is not a whole number", name=name, value=repr(raw)) from None
    if value <= 0:
        raise InputProblem("%(name)s must be more than 0", name=name)
    return value


def add(session: Session, fields: dict[str, Any]) -> TrainingSession:
    row = TrainingSession(**fields)
    session.add(row)
    session.flush()
    return row


@dataclass
class SessionImportReport:
    created: list[int] = field(default_factory=list)
    rejected: list[ImportRowError] = field(default_factory=list)


def import_rows(
    session: Session,
    rows: Iterable[tuple[int, dict[str, str]]],
    vocabulary: Vocabulary,
    timezone: str,
    feedback_after_minutes: int | None = None,
) -> SessionImportReport:
    report = SessionImportReport()
    convert = lambda row: session_fields(row, vocabulary, timezone)  # noqa: E731
    for _, fields in checked_rows(rows, convert, report.rejected):
        fields["feedback_after_minutes"] = feedback_after_minutes
        report.created.append(add(session, fields).id)
    return report


def upcoming(session: Session, now: datetime | None = None, include_past: bool = False):
    query = select(TrainingSession).order_by(TrainingSession.starts_at)
    if not include_past:
        query = query.where(TrainingSession.starts_at >= (now or utcnow()))
    return list(session.scalars(query))


def next_for(session: Session, member: Member, now: datetime | None = None):
    """The next session, not cancelled, on one of the member's topics, in their language."""
    topics = member.topics
    if not topics:
        return None
    query = (
        select(TrainingSession)
        .where(
            TrainingSession.starts_at > (now or utcnow()),
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.topic.in_(topics),
            TrainingSession.language.in_((member.language, BOTH)),
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(1)
    )
    return session.scalar(query)


def audience_languages(row: TrainingSession) -> tuple[str, ...]:
    """Which members' languages hear of this session (empty: everyone's): the same
    rule ``next_for`` applies, so a reminder never reaches a member who cannot find
    the session under Next session."""
    return () if row.language == BOTH else (row.language,)


def enrolled_count(session: Session, session_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.session_id == session_id)) or 0


def enrol(session: Session, member: Member, session_id: int, channel: str) -> str:
    """Enrol once: ``enrolled``, ``already`` or ``full`` (``missing`` if cancelled/gone)."""
    target = session.get(TrainingSession, session_id)
    if target is None or target.cancelled_at is not None:
        return "missing"
    exists = session.scalar(
        select(Enrolment.id).where(Enrolment.member_id == member.id, Enrolment.session_id == session_id)
    )
    if exists:
        return "already"
    if target.capacity is not None and enrolled_count(session, session_id) >= target.capacity:
        return "full"
    try:
        with session.begin_nested():  # a concurrent duplicate hits the unique constraint
            session.add(Enrolment(member_id=member.id, session_id=session_id, channel=channel))
    except IntegrityError:
        return "already"
    return "enrolled"


def confirm(session: Session, member: Member, session_id: int, now: datetime) -> None:
    """She said she will come (on a reminder call)."""
    row = session.scalar(select(Enrolment).where(Enrolment.member_id == member.id, Enrolment.session_id == session_id))
    if row is not None and row.confirmed_at is None:
        row.confirmed_at = now
        session.flush()


def where_to_join(row: TrainingSession) -> str:
    return " / ".join(part for part in (row.place, row.join_link, row.dial_in) if part)


def reminders(session: Session, session_id: int) -> list[Reminder]:
    """The reminders (and the feedback poll) a session has scheduled, soonest first."""
    return list(session.scalars(select(Reminder).where(Reminder.session_id == session_id).order_by(Reminder.due_at)))
