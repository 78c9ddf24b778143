"""Broadcasts: one announcement, a text per language, many members.

Sending happens in two steps so that no one is missed and no one gets it twice:
1. ``start`` writes one outbox row per recipient (unique per broadcast and member;
   rows that already exist are left alone), then queues batch jobs of row ids;
2. each batch job claims its rows atomically and sends (see ``gateway.tasks``).
Sending the same broadcast again only queues what is still queued.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gateway.content.prompts import Catalog
from gateway.encoding import normalise_lao, sms_size
from gateway.errors import InputProblem
from gateway.messaging.audience import Audience  # noqa: F401  (re-exported for the CLI)
from gateway.store.models import Broadcast, Member, OutboundMessage, TrainingSession, utcnow
from gateway.store.schedule import where_to_join
from gateway.store.states import BroadcastState, MessageState

PLACEHOLDERS = {"name", "session.title", "session.starts_at", "session.where"}
EXAMPLES = 3  # distinct renderings a preview shows per language


def check_texts(texts: dict[str, str], languages: Iterable[str]) -> dict[str, str]:
    """Clean per-language texts; raise InputProblem (a ValueError) naming what is wrong."""
    # A browser sends a textarea's line breaks as CRLF; one SMS line break is LF.
    texts = {
        lang: normalise_lao((text or "").replace("\r\n", "\n").strip())
        for lang, text in texts.items()
        if (text or "").strip()
    }
    if not texts:
        raise InputProblem("give the message text in at least one language")
    for lang, text in texts.items():
        if lang not in languages:
            raise InputProblem("no language %(lang)s; use %(choices)s", lang=repr(lang), choices=", ".join(languages))
        if len(text) > 1000:
            raise InputProblem(
                "the %(lang)s text is %(length)s characters; keep it under 1000", lang=lang, length=len(text)
            )
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            raise InputProblem(
                "the %(lang)s text has a broken placeholder: %(problem)s", lang=lang, problem=str(exc)
            ) from None
        unknown = fields - PLACEHOLDERS
        if unknown:
            raise InputProblem(
                "the %(lang)s text uses %(unknown)s; available: %(available)s",
                lang=lang,
                unknown=", ".join(sorted("{" + u + "}" for u in unknown)),
                available=", ".join(sorted("{" + p + "}" for p in PLACEHOLDERS)),
            )
    return texts


@dataclass
class Renderer:
    """Turns a broadcast's texts into each member's message."""

    texts: dict[str, str]
    default_language: str
    catalog: Catalog
    session: TrainingSession | None = None
    _sessions: dict = field(default_factory=dict)
    _fields: dict = field(default_factory=dict)  # language -> the placeholders its text uses

    def language_for(self, member_language: str | None) -> str:
        for lang in (member_language, self.default_language):
            if lang in self.texts:
                return lang
        return next(iter(self.texts))

    def missing(self, member) -> list[str]:
        """The placeholders of ``member``'s text that would be empty for her: a text
        with one is never sent (``preview`` refuses it, ``materialise`` too)."""
        lang = self.language_for(member.language)
        text = self.texts[lang]
        if "{" not in text:
            return []
        if lang not in self._fields:  # parsed once per language, not once per member
            self._fields[lang] = list(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(text) if name))
        session = self._session_values(lang)
        found = []
        for field_name in self._fields[lang]:
            if field_name == "name":
                empty = not (member.name or "").strip()
            elif field_name.startswith("session."):
                empty = not str(getattr(session, field_name.removeprefix("session."), "") or "").strip()
            else:
                continue
            if empty:
                found.append(field_name)
        return found

    def per_member(self) -> bool:
        """Whether any text names the member (``{name}``): else every member of a
        language gets the same words, and a preview need not render each one."""
        return any(
            name == "name" or (name or "").startswith("name.")
            for text in self.texts.values()
            for _, name, _, _ in string.Formatter().parse(text)
        )

    def body(self, member) -> str:
        """The message for ``member`` (anything with ``name`` and ``language``)."""
        lang = self.language_for(member.language)
        text = self.texts[lang]
        if "{" not in text:
            return text
        return text.format_map({"name": member.name or "", "session": self._session_values(lang)})

    def _session_values(self, lang: str) -> SimpleNamespace:
        if lang not in self._sessions:
            row = self.session
            self._sessions[lang] = SimpleNamespace(
                title=(row.titles.get(lang) or next(iter(row.titles.values()))) if row else "",
                starts_at=self.catalog.format_moment(row.starts_at, lang) if row else "",
                where=where_to_join(row) if row else "",
            )
        return self._sessions[lang]


def create(
    db: Session, texts: dict[str, str], audience: Audience, name: str = "", session_id: int | None = None
) -> Broadcast:
    row = Broadcast(name=name, texts=texts, audience=audience.to_dict(), session_id=session_id)
    db.add(row)
    db.flush()
    return row


def renderer_for(db: Session, broadcast: Broadcast, catalog: Catalog, default_language: str) -> Renderer:
    session = db.get(TrainingSession, broadcast.session_id) if broadcast.session_id else None
    return Renderer(dict(broadcast.texts), default_language, catalog, session)


@dataclass
class LanguagePreview:
    language: str
    recipients: int = 0
    encoding: str = ""
    segments: int = 0  # in total
    examples: list = field(default_factory=list)  # [body, how many get it], the first few distinct


@dataclass
class Preview:
    recipients: int
    languages: list[LanguagePreview]
    segments: int
    cost: float
    currency: str
    blanks: dict = field(default_factory=dict)  # placeholder -> recipients it would be empty for
    session: bool = False  # whether the broadcast names a session

    def problem(self) -> InputProblem | None:
        """Why this cannot be sent: a placeholder with nothing to fill it."""
        return blank_problem(self.blanks, self.session)


def blank_problem(blanks: dict[str, int], has_session: bool) -> InputProblem | None:
    """What to fix, naming the first empty placeholder and what to choose."""
    for placeholder, count in blanks.items():
        if placeholder == "name":
            return InputProblem(
                "{name} would be empty for %(count)s recipient(s) who have no name: take {name} "
                "out of the text, or leave them out of the audience",
                count=count,
            )
        if not has_session:
            return InputProblem(
                "the text uses {%(placeholder)s}, but no session is chosen: choose the session "
                "the text is about, or take {%(placeholder)s} out",
                placeholder=placeholder,
            )
        return InputProblem(
            "the session has nothing for {%(placeholder)s} (%(count)s recipient(s)): add it to "
            "the session, or take {%(placeholder)s} out of the text",
            placeholder=placeholder,
            count=count,
        )
    return None


def preview_of(db: Session, broadcast: Broadcast, catalog: Catalog, config) -> Preview:
    """``preview`` of ``broadcast`` as this install renders and prices it."""
    renderer = renderer_for(db, broadcast, catalog, config.default_language)
    return preview(db, broadcast, renderer, float(config.price_per_segment), config.price_currency)


def preview(db: Session, broadcast: Broadcast, renderer: Renderer, price: float, currency: str) -> Preview:
    by_lang: dict[str, LanguagePreview] = {}
    blanks: dict[str, int] = {}
    audience = Audience.from_dict(broadcast.audience)
    if renderer.per_member():
        query = audience.select(Member.id, Member.name, Member.language).execution_options(yield_per=5000)
        groups = ((member, 1) for member in db.execute(query))
    else:
        # The same words for every member of a language: counted by language in the
        # database (a million members: 0.1 s, where rendering each took 8 s).
        counted = audience.select(Member.language).order_by(None).subquery()
        groups = (
            (SimpleNamespace(name="", language=language), count)
            for language, count in db.execute(select(counted.c.language, func.count()).group_by(counted.c.language))
        )
    for member, count in groups:
        lang = renderer.language_for(member.language)
        entry = by_lang.setdefault(lang, LanguagePreview(lang))
        for placeholder in renderer.missing(member):
            blanks[placeholder] = blanks.get(placeholder, 0) + count
        body = renderer.body(member)
        size = sms_size(body)
        entry.recipients += count
        entry.segments += size.segments * count
        entry.encoding = size.encoding if not entry.encoding or entry.encoding == size.encoding else "mixed"
        _count_example(entry, body, count)
    languages = sorted(by_lang.values(), key=lambda e: e.language != renderer.default_language)  # hers first
    segments = sum(e.segments for e in languages)
    return Preview(
        sum(e.recipients for e in languages),
        languages,
        segments,
        round(segments * price, 4),
        currency,
        blanks,
        renderer.session is not None,
    )


def _count_example(entry: LanguagePreview, body: str, count: int = 1) -> None:
    """Each distinct rendering (up to ``EXAMPLES``), with how many get it."""
    for example in entry.examples:
        if example[0] == body:
            example[1] += count
            return
    if len(entry.examples) < EXAMPLES:
        entry.examples.append([body, count])


def materialise(db: Session, broadcast: Broadcast, renderer: Renderer, chunk: int = 5000) -> int:
    """Write the outbox rows not written yet; return how many were added."""
    have = set(db.scalars(select(OutboundMessage.member_id).where(OutboundMessage.broadcast_id == broadcast.id)))
    audience = Audience.from_dict(broadcast.audience)
    query = audience.select(Member.id, Member.name, Member.language, Member.reminder_channel).execution_options(
        yield_per=chunk
    )
    sizes: dict[str, object] = {}  # a shared text is measured once, not once per member
    added, pending = 0, []
    now = utcnow()
    for member in db.execute(query):
        if member.id in have:
            continue
        empty = renderer.missing(member)
        if empty:  # the caller's transaction rolls back what was added: nothing of it is sent
            raise blank_problem({placeholder: 1 for placeholder in empty}, renderer.session is not None)
        body = renderer.body(member)
        size = sizes.get(body)
        if size is None:
            size = sms_size(body)
            if len(sizes) < 64:  # personalised texts are all different: do not hoard them
                sizes[body] = size
        call = broadcast.by_preference and member.reminder_channel == "voice"
        pending.append(
            {
                "member_id": member.id,
                "broadcast_id": broadcast.id,
                "kind": "bulk",
                "channel": "voice" if call else "sms",
                "body": body,
                "encoding": "voice" if call else size.encoding,
                "segments": 0 if call else size.segments,
                "status": MessageState.QUEUED,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(pending) >= chunk:
            _write_rows(db, pending)
            added, pending = added + len(pending), []
    if pending:
        _write_rows(db, pending)
        added += len(pending)
    return added


OUTBOX_COLUMNS = (
    "member_id", "broadcast_id", "kind", "channel", "body", "encoding", "segments", "status", "attempts",
    "created_at", "updated_at",
)  # fmt: skip


def _write_rows(db: Session, rows: list[dict]) -> None:
    """Insert outbox rows in the session's transaction. On PostgreSQL with ``COPY``:
    a broadcast to 900,000 members spent 33 of its 71 s in the INSERTs' round trips
    and per-row work (bench/scale.py, docs/benchmarks.md); COPY streams them."""
    if db.bind.dialect.name != "postgresql":
        db.execute(insert(OutboundMessage), rows)
        return
    driver = db.connection().connection.driver_connection
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY outbound_messages ({', '.join(OUTBOX_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        # As UTCDateTime writes them: naive UTC.
                        row[name].astimezone(timezone.utc).replace(tzinfo=None)
                        if name in ("created_at", "updated_at")
                        else str(row[name])
                        if name == "status"
                        else row[name]
                        for name in OUTBOX_COLUMNS
                    ]
                )


def queued_batches(db: Session, broadcast_id: int, size: int, unowned: bool = False) -> Iterator[list[int]]:
    """Queued row ids in batches (only those no job owns yet, with ``unowned``);
    rows with the same text sit together, so one Africa's Talking request can
    carry a whole batch. Read as they are wanted (``yield_per``): a broadcast to a
    million members is never a million rows in memory at once."""
    query = (
        select(OutboundMessage.id, OutboundMessage.body)
        .where(OutboundMessage.broadcast_id == broadcast_id, OutboundMessage.status == MessageState.QUEUED)
        .order_by(OutboundMessage.body, OutboundMessage.id)
        .execution_options(yield_per=5000)
    )
    current: list[int] = []
    current_body = None
    for message_id, body in db.execute(query.where(OutboundMessage.job_id.is_(None)) if unowned else query):
        if current and (len(current) >= size or (body != current_body and len(current) >= size // 2)):
            yield current
            current = []
        current.append(message_id)
        current_body = body
    if current:
        yield current


def queued_by_job(db: Session, broadcast_id: int, size: int) -> list[tuple[str, list[int]]]:
    """Queued rows grouped by the job that owns them, as (job id, row ids). Rows
    that have no owner (queued before job ids were recorded) get one here."""
    owned: dict[str, list[int]] = {}
    orphans = False
    for job_id, message_id in db.execute(
        select(OutboundMessage.job_id, OutboundMessage.id)
        .where(OutboundMessage.broadcast_id == broadcast_id, OutboundMessage.status == MessageState.QUEUED)
        .order_by(OutboundMessage.id)
    ):
        if job_id is None:
            orphans = True
        else:
            owned.setdefault(job_id, []).append(message_id)
    if orphans:
        for ids in list(queued_batches(db, broadcast_id, size, unowned=True)):  # read whole: it writes the rows
            job_id = f"batch-{broadcast_id}-{ids[0]}"
            db.execute(update(OutboundMessage).where(OutboundMessage.id.in_(ids)).values(job_id=job_id))
            owned[job_id] = ids
    return list(owned.items())


def _unknown_before(broadcast_id: int, grace_s: int):
    return (
        OutboundMessage.broadcast_id == broadcast_id,
        OutboundMessage.status == MessageState.UNKNOWN,
        OutboundMessage.updated_at < utcnow() - timedelta(seconds=grace_s),
    )


def unknown_count(db: Session, broadcast_id: int, grace_s: int) -> int:
    """Rows whose fate is unknown and old enough that no report is coming."""
    return db.scalar(select(func.count()).select_from(OutboundMessage).where(*_unknown_before(broadcast_id, grace_s)))


def requeue_unknown(db: Session, broadcast_id: int, grace_s: int) -> int:
    """An organiser chose to resend them: back in the queue with a fresh budget."""
    return db.execute(
        update(OutboundMessage)
        .where(*_unknown_before(broadcast_id, grace_s))
        .values(status=MessageState.QUEUED, attempts=0, error=None, job_id=None, claim=None, updated_at=utcnow())
    ).rowcount


def requeue_failed(db: Session, broadcast_id: int) -> int:
    """An organiser chose to try the failed ones again (not ``unknown``: those may
    have arrived, and have their own careful path)."""
    return db.execute(
        update(OutboundMessage)
        .where(OutboundMessage.broadcast_id == broadcast_id, OutboundMessage.status == MessageState.FAILED)
        .values(status=MessageState.QUEUED, attempts=0, error=None, job_id=None, claim=None, updated_at=utcnow())
    ).rowcount


def recipients(db: Session, broadcast_id: int, status: str | None = None):
    """Each recipient's message: who (id, name, number, language), how (channel), and
    what became of it (status, error, when), in the order written."""
    query = (
        select(
            Member.id,
            Member.name,
            Member.phone,
            Member.language,
            OutboundMessage.channel,
            OutboundMessage.status,
            OutboundMessage.error,
            OutboundMessage.updated_at,
        )
        .join(Member, Member.id == OutboundMessage.member_id)
        .where(OutboundMessage.broadcast_id == broadcast_id)
        .order_by(OutboundMessage.id)
    )
    return query.where(OutboundMessage.status == status) if status else query


def cancel(db: Session, broadcast: Broadcast) -> int:
    """Stop a broadcast: rows not yet claimed (or calls waiting to be tried again)
    are cancelled; returns how many."""
    broadcast.status, broadcast.cancelled_at = BroadcastState.CANCELLED, utcnow()
    return db.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.broadcast_id == broadcast.id,
            OutboundMessage.status.in_((MessageState.QUEUED, MessageState.WAITING)),
        )
        .values(status=MessageState.CANCELLED, updated_at=utcnow())
    ).rowcount


def progress(db: Session, broadcast_id: int) -> dict[str, int]:
    counts = dict(
        db.execute(
            select(OutboundMessage.status, func.count())
            .where(OutboundMessage.broadcast_id == broadcast_id)
            .group_by(OutboundMessage.status)
        ).all()
    )
    return {
        status: counts.get(status, 0)
        for status in ("queued", "sending", "waiting", "sent", "delivered", "failed", "unknown", "cancelled")
    }


def next_allowed(now: datetime, window, timezone: str) -> datetime | None:
    """When bulk may go out: None if now is fine, else the end of quiet hours."""
    if window is None:
        return None
    start, end = window
    local = now.astimezone(ZoneInfo(timezone))
    current = local.time()
    quiet = (start <= current or current < end) if start > end else (start <= current < end)
    if not quiet:
        return None
    opening = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening
