"""Polls: a question sent by SMS, answered by text or through the USSD menu.

A poll's question goes out as an ordinary broadcast, so the cost preview, quiet
hours, opt-outs and the no-duplicates rule of ``gateway.broadcasts`` apply.
Answers land in ``poll_votes``, one row per member and poll: a new valid answer
replaces the old one and keeps the first vote's time. Replies that do not count
(not an option, or after closing) are kept in ``poll_replies`` for the results.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gateway.content.prompts import Catalog
from gateway.encoding import normalise_lao
from gateway.errors import InputProblem
from gateway.engine import Text
from gateway.messaging import broadcasts
from gateway.messaging.audience import Audience
from gateway.polls import answer as poll_answer
from gateway.store.database import upsert_dialect
from gateway.store.models import (
    Broadcast,
    OutboundMessage,
    Poll,
    PollReply,
    PollVote,
    TrainingSession,
    utcnow,
)
from gateway.store.states import MessageState

MAX_OPTIONS = 9  # one key on a phone pad
# A member who keeps sending answers we cannot read gets help this many times per
# poll, then silence, so two automated senders cannot loop on each other.
INVALID_HELP_LIMIT = 3
# A reply to a poll closed longer ago than this is not taken as a late answer.
CLOSED_GRACE = timedelta(days=7)
SENT = (
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.UNKNOWN,
)  # "unknown": the provider may well have sent it
# Bumped when this process creates or closes a poll, so its answer cache reloads at once.
_generation = 0


def _touched() -> None:
    global _generation
    _generation += 1


def check(
    code: str,
    questions: dict[str, str],
    options: Sequence[dict[str, str]],
    opens_at: datetime,
    closes_at: datetime,
    languages: Sequence[str],
) -> None:
    """Raise ValueError naming what is wrong with a new poll."""
    if not poll_answer.valid_code(code):
        raise InputProblem("code %(code)s should be 1-3 letters then 1-4 digits, e.g. P4", code=repr(code))
    if not questions:
        raise InputProblem("give the question in at least one language")
    for lang, text in list(questions.items()) + [(lang, t) for o in options for lang, t in o.items()]:
        if lang not in languages:
            raise InputProblem("no language %(lang)s; use %(choices)s", lang=repr(lang), choices=", ".join(languages))
        if not text.strip():
            raise InputProblem("an empty %(lang)s text", lang=lang)
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise InputProblem("a poll needs 2 to %(most)s options, got %(count)s", most=MAX_OPTIONS, count=len(options))
    for lang in questions:
        missing = [str(n) for n, option in enumerate(options, start=1) if not option.get(lang)]
        if missing:
            raise InputProblem(
                "option(s) %(numbers)s have no %(lang)s text but the question has",
                numbers=", ".join(missing),
                lang=lang,
            )
    if closes_at <= opens_at:
        raise InputProblem("the poll must close after it opens")


def next_code(db: Session, prefix: str = "P") -> str:
    """The first free code ``P<n>``."""
    taken = set(db.scalars(select(Poll.code).where(Poll.code.like(f"{prefix}%"))))
    number = (db.scalar(select(func.count(Poll.id))) or 0) + 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def create(
    db: Session,
    code: str,
    questions: dict,
    options: list,
    audience: Audience,
    opens_at: datetime,
    closes_at: datetime,
    kind: str = "poll",
    session_id: int | None = None,
    confirm: bool = False,
) -> Poll:
    if db.scalar(select(Poll.id).where(Poll.code == code)) is not None:
        raise InputProblem("code %(code)s is taken; choose another or leave --code out", code=code)
    questions = {lang: normalise_lao(text) for lang, text in questions.items()}
    options = [{lang: normalise_lao(text) for lang, text in option.items()} for option in options]
    poll = Poll(
        code=code,
        questions=questions,
        options=options,
        audience=audience.to_dict(),
        opens_at=opens_at,
        closes_at=closes_at,
        kind=kind,
        session_id=session_id,
        confirm=confirm,
    )
    db.add(poll)
    db.flush()
    _touched()
    return poll


def feedback_poll(
    db: Session, session: TrainingSession, catalog: Catalog, open_for: timedelta, now: datetime | None = None
) -> Poll:
    """The one-question feedback poll for a session's enrolled members (created once)."""
    existing = db.scalar(select(Poll).where(Poll.session_id == session.id, Poll.kind == "feedback"))
    if existing is not None:
        return existing
    now = now or utcnow()
    languages = catalog.languages
    questions = {
        lang: catalog.render(Text("feedback.question", {"title": label(session.titles, lang)}), lang)
        for lang in languages
    }
    options = [{lang: catalog.template(lang, f"feedback.option{n}") for lang in languages} for n in range(1, 6)]
    code = (
        f"F{session.id}"
        if db.scalar(select(Poll.id).where(Poll.code == f"F{session.id}")) is None
        else next_code(db, "F")
    )
    return create(
        db,
        code,
        questions,
        options,
        Audience(session_id=session.id),
        now,
        now + open_for,
        kind="feedback",
        session_id=session.id,
    )


# ------------------------------------------------------------------ wording


def label(texts: dict[str, str], lang: str) -> str:
    """A poll text in ``lang``, falling back to any language it has."""
    return texts.get(lang) or next(iter(texts.values()))


def option_lines(poll: Poll, lang: str) -> str:
    return "\n".join(f"{n} {label(option, lang)}" for n, option in enumerate(poll.options, start=1))


def question_text(poll: Poll, lang: str, catalog: Catalog) -> str:
    return catalog.render(
        Text(
            "poll.sms",
            {"code": poll.code, "question": label(poll.questions, lang), "options": option_lines(poll, lang)},
        ),
        lang,
    )


def start_broadcast(db: Session, poll: Poll, catalog: Catalog) -> Broadcast:
    """The broadcast carrying the question, created once per poll."""
    if poll.broadcast_id is not None:
        return db.get(Broadcast, poll.broadcast_id)
    # Broadcast texts are templates; a brace in a question must stay a brace.
    texts = {lang: question_text(poll, lang, catalog).replace("{", "{{").replace("}", "}}") for lang in poll.questions}
    row = broadcasts.create(
        db, texts, Audience.from_dict(poll.audience), f"poll {poll.code}", session_id=poll.session_id
    )
    poll.broadcast_id = row.id
    return row


def close(db: Session, poll: Poll, now: datetime | None = None) -> int:
    """Close (now, unless given); question messages not yet sent are cancelled.
    Returns how many were cancelled."""
    now = now or utcnow()
    poll.closed_at = poll.closed_at or now
    _touched()
    if poll.broadcast_id is None:
        return 0
    return broadcasts.cancel(db, db.get(Broadcast, poll.broadcast_id))


# ------------------------------------------------------------------ answers


# The one rule for "which polls can she answer": those whose question reached her,
# open or closed within CLOSED_GRACE, newest first. USSD asks it for one member; the
# SMS hot path (Ballots) for a whole batch of texts' senders, with the poll list cached.
REACHED = select(OutboundMessage.member_id, OutboundMessage.broadcast_id, OutboundMessage.updated_at).where(
    OutboundMessage.member_id.in_(bindparam("member_ids", expanding=True)),
    OutboundMessage.broadcast_id.in_(bindparam("broadcasts", expanding=True)),
    OutboundMessage.status.in_(SENT),
)


def answerable(db: Session, now: datetime) -> dict[int, Poll]:
    """Polls open or closed within CLOSED_GRACE, by the broadcast that carried the question."""
    rows = db.scalars(select(Poll).where(Poll.broadcast_id.is_not(None), Poll.closes_at > now - CLOSED_GRACE)).all()
    return {poll.broadcast_id: poll for poll in rows if poll.closed_at is None or poll.closed_at > now - CLOSED_GRACE}


def reached(db: Session, member_ids: Iterable[int], polls: dict[int, Poll]) -> dict[int, list[tuple[Poll, datetime]]]:
    """Which of ``polls`` reached each of these members, with when, newest first
    (members none reached are left out)."""
    member_ids = sorted(set(member_ids))
    if not polls or not member_ids:
        return {}
    found: dict[int, list[tuple[Poll, datetime]]] = {}
    for member_id, broadcast_id, at in db.connection().execute(
        REACHED, {"member_ids": member_ids, "broadcasts": list(polls)}
    ):
        found.setdefault(member_id, []).append((polls[broadcast_id], at))
    return {
        member_id: sorted(pairs, key=lambda pair: (pair[1], pair[0].id), reverse=True)
        for member_id, pairs in found.items()
    }


def sent_to(db: Session, member_id: int, now: datetime) -> list[tuple[Poll, datetime]]:
    """Polls whose question reached this member, open or closed lately, newest first."""
    return reached(db, [member_id], answerable(db, now)).get(member_id, [])


class Ballots:
    """The hot path for answers by text. A poll going out brings thousands of answers a
    minute, so the polls that can take answers are cached for ``CACHE_S`` seconds, and
    a batch of texts asks which of them reached its members in one query
    (``round``). The cache only proposes polls: whether the chosen one is still open
    is read again inside the batch's transaction, before its answers count."""

    CACHE_S = 2.0

    def __init__(self, database):
        self.database = database
        self._polls: dict[int, Poll] = {}  # by the broadcast that carried the question
        self._loaded = 0.0
        self._generation = -1
        self._lock = threading.Lock()

    def recent(self, now: datetime) -> dict[int, Poll]:
        """Polls open or closed within CLOSED_GRACE, by broadcast id (cached briefly)."""
        with self._lock:
            if time.monotonic() - self._loaded > self.CACHE_S or self._generation != _generation:
                self._generation = _generation
                with self.database.session() as db:
                    self._polls = answerable(db, now)
                self._loaded = time.monotonic()
            return self._polls

    def round(self, db: Session, members: Iterable, now: datetime) -> BallotRound | None:
        """What a batch of texts needs to read them as answers, for the members who
        sent them; None when no poll is taking answers."""
        polls = self.recent(now)
        if not polls:
            return None
        return BallotRound(db, reached(db, (member.id for member in members), polls))


CLOSING = select(Poll.closed_at, Poll.closes_at).where(Poll.id == bindparam("id"))


class BallotRound:
    """One batch of texts, read as poll answers inside the batch's transaction.

    Per text it would take four statements (who she is, which polls reached her,
    whether the poll has closed, her vote); per batch it takes one query up front,
    one read of each answered poll's closing, and one statement for all the votes
    (``cast``, before the batch commits). Her member row is the batch's own, so a
    STOP or a registration earlier in the same batch is already in it."""

    def __init__(self, db: Session, reach: dict[int, list[tuple[Poll, datetime]]]):
        self.db = db
        self._reach = reach
        self._closing_read: set[int] = set()
        self._votes: dict[tuple[int, int], dict] = {}

    def polls_for(self, member) -> list[tuple[Poll, datetime]]:
        """The polls whose question reached her, newest first, if she may answer
        (consented, not erased, not opted out); else an empty list."""
        if member.consent_at is None or member.erased_at is not None or member.opted_out_at is not None:
            return []
        return self._reach.get(member.id, [])

    def refresh(self, poll: Poll) -> None:
        """Read the poll's closing time again (the poll list was cached), once a batch."""
        if poll.id not in self._closing_read:
            poll.closed_at, poll.closes_at = self.db.connection().execute(CLOSING, {"id": poll.id}).one()
            self._closing_read.add(poll.id)

    def vote(self, poll: Poll, member, option: int, channel: str, now: datetime) -> None:
        """Hold her vote for ``cast``. A later answer in the same batch replaces an
        earlier one and keeps its time as the first (as two batches would)."""
        earlier = self._votes.get((poll.id, member.id))
        self._votes[(poll.id, member.id)] = {
            "poll_id": poll.id,
            "member_id": member.id,
            "option": option,
            "province": member.province,
            "language": member.language,
            "channel": channel,
            "voted_at": now,
            "first_voted_at": earlier["first_voted_at"] if earlier else now,
        }

    def cast(self) -> None:
        """Write the batch's votes: one upsert, executed for each (poll, member) once."""
        if self._votes:
            self.db.connection().execute(_vote_upsert(self.db.get_bind().dialect.name), list(self._votes.values()))
            self._votes.clear()


def open_for(db: Session, member_id: int, now: datetime) -> list[Poll]:
    """What the USSD "Polls" menu lists: open polls sent to her, newest first."""
    return [poll for poll, _ in sent_to(db, member_id, now) if poll.is_open(now)]


@lru_cache(maxsize=4)
def _vote_upsert(dialect_name: str):
    """Built once: building an upsert (its ``excluded`` columns) costs more than running it."""
    statement = upsert_dialect(dialect_name).insert(PollVote)
    return statement.on_conflict_do_update(
        index_elements=["poll_id", "member_id"],
        set_={
            "option": statement.excluded.option,
            "voted_at": statement.excluded.voted_at,
            "channel": statement.excluded.channel,
        },
    )


def vote(db: Session, poll: Poll, member, option: int, channel: str, now: datetime | None = None) -> None:
    """Record (or replace) her answer in one statement; the unique key makes two
    concurrent answers leave one row, and the first vote's time is kept.
    ``member`` is anything with ``id``, ``province`` and ``language``."""
    now = now or utcnow()
    # Through the Core connection: the ORM's bulk-insert path costs more than the SQL.
    db.connection().execute(
        _vote_upsert(db.get_bind().dialect.name),
        {
            "poll_id": poll.id,
            "member_id": member.id,
            "option": option,
            "province": member.province,
            "language": member.language,
            "channel": channel,
            "first_voted_at": now,
            "voted_at": now,
        },
    )


def remember_reply(db: Session, poll: Poll, member_id: int, reason: str, text: str) -> int:
    """Keep a reply that did not count; return how many of this kind she has sent."""
    db.add(PollReply(poll_id=poll.id, member_id=member_id, reason=reason, text=text[:160]))
    return db.scalar(
        select(func.count(PollReply.id)).where(
            PollReply.poll_id == poll.id, PollReply.member_id == member_id, PollReply.reason == reason
        )
    )


@dataclass(frozen=True)
class Outcome:
    """What became of a text read as a poll answer. ``reply`` is None for silence."""

    result: str  # voted | invalid | closed
    poll: Poll
    reply: Text | None = None
    option: int | None = None


def answer(round_: BallotRound, poll: Poll, member, body: str, text: str, channel: str, now: datetime) -> Outcome:
    """Apply one answer to ``poll`` and say what to tell her. A vote is held by
    ``round_`` until it casts the batch's votes."""
    db, lang = round_.db, member.language
    round_.refresh(poll)  # closed a moment ago?
    if not poll.is_open(now):
        first = remember_reply(db, poll, member.id, "closed", text) == 1
        return Outcome("closed", poll, Text("poll.closed", {"code": poll.code}) if first else None)
    option = poll_answer.choose(body, poll.options)
    if option is None:
        tries = remember_reply(db, poll, member.id, "invalid", text)
        reply = Text(
            "poll.invalid",
            {
                "code": poll.code,
                "question": label(poll.questions, lang),
                "options": option_lines(poll, lang),
                "letters": poll_answer.letters(len(poll.options)),
            },
        )
        return Outcome("invalid", poll, reply if tries <= INVALID_HELP_LIMIT else None)
    round_.vote(poll, member, option, channel, now)
    reply = Text("poll.thanks", {"code": poll.code, "choice": label(poll.options[option - 1], lang)})
    return Outcome("voted", poll, reply if poll.confirm else None, option)


def close_due(db: Session, now: datetime | None = None) -> list[int]:
    """Polls past their closing time whose unsent questions should be cancelled."""
    now = now or utcnow()
    due = list(db.scalars(select(Poll).where(Poll.closed_at.is_(None), Poll.closes_at <= now)))
    for poll in due:
        close(db, poll, poll.closes_at)
    return [poll.id for poll in due]
