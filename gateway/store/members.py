"""Members: lookups for flows, saving registrations, CSV import and export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from gateway.content.vocabulary import Vocabulary, holds
from gateway.errors import ImportRowError, InputProblem
from gateway.phone import is_valid, to_e164
from gateway.store.csvfile import checked_rows, split_list
from gateway.store.database import upsert_dialect
from gateway.store.models import Member, MemberTopic, utcnow

CSV_COLUMNS = ("phone", "name", "organisation", "province", "language", "topics")
_CONSENT_WORDS = {"yes", "y", "true", "1", "ແມ່ນ", "ຍິນຍອມ"}


# Built once: building the statement (coercing the clause, then its cache key) cost
# more than running it, and this runs at the start of every USSD session.
# Topics load only if asked for: a vote never does. (A batch of texts uses by_phones.)
_BY_PHONE = select(Member).where(Member.phone == bindparam("phone")).options(lazyload(Member.topic_rows))


def by_phone(session: Session, phone: str) -> Member | None:
    return session.scalar(_BY_PHONE, {"phone": phone})


def by_phones(session: Session, phones: set[str]) -> dict[str, Member]:
    """The members with these numbers, by number, for a batch of texts: one query,
    and one more for all their topics. Topics are loaded with them because every
    text that starts a flow hands the flow her topics (``snapshot``): loaded one
    member at a time, each load also flushed the batch's pending writes first
    (autoflush): half the drainer's wall-clock time under load, mostly waiting on the
    database."""
    if not phones:
        return {}
    return {
        member.phone: member
        for member in session.scalars(
            select(Member).where(Member.phone.in_(phones)).options(selectinload(Member.topic_rows))
        )
    }


def first_contact(session: Session, phone: str, *, language: str, source: str) -> Member:
    """The member with this number, made (the number only) if she is new.

    Two first contacts from one number at once (a USSD registration and an SMS)
    converge on one row: the insert does nothing when the other got there first,
    instead of failing with a unique-key error that would lose her message.
    """
    member = by_phone(session, phone)
    if member is not None:
        return member
    now = utcnow()
    session.execute(
        upsert_dialect(session.get_bind().dialect.name)
        .insert(Member)
        .values(phone=phone, language=language, source=source, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["phone"])
    )
    return by_phone(session, phone)


def first_contacts(session: Session, phones: set[str], *, language: str, source: str) -> dict[str, Member]:
    """``first_contact`` for a batch of new numbers: one ``INSERT`` for all of them
    (doing nothing for a number that got its row meanwhile) and one query back.
    A batch of texts from people new to us (a keyword on a poster, a radio spot)
    took four statements a text the other way."""
    if not phones:
        return {}
    now = utcnow()
    session.connection().execute(
        upsert_dialect(session.get_bind().dialect.name).insert(Member).on_conflict_do_nothing(index_elements=["phone"]),
        [
            {"phone": phone, "language": language, "source": source, "created_at": now, "updated_at": now}
            for phone in sorted(phones)
        ],
    )
    return by_phones(session, phones)


def snapshot(member: Member | None) -> dict[str, Any]:
    """What flows may know of a member (conditions and prompts). No phone number."""
    if member is None:
        return {"registered": False}
    return {
        "registered": member.registered,
        "name": member.name,
        "organisation": member.organisation,
        "province": member.province,
        "language": member.language,
        "topics": member.topics,
        "opted_out": member.opted_out_at is not None,
    }


def set_topics(member: Member, topics: Iterable[str]) -> None:
    wanted = list(dict.fromkeys(topics))
    member.topic_rows = [row for row in member.topic_rows if row.topic in wanted]
    have = {row.topic for row in member.topic_rows}
    member.topic_rows.extend(MemberTopic(topic=t) for t in wanted if t not in have)


def save_registration(session: Session, phone: str, answers: dict[str, Any], now: datetime | None = None) -> Member:
    """Create or update the member from a completed registration flow.

    A new member (the usual case) takes one ``INSERT … RETURNING`` with every
    answer and one ``INSERT`` of her topics. Before, finding her, inserting her
    number, finding her again, updating her twice and reading her topics took
    seven statements, the largest share of a registration's CPU.
    """
    now = now or utcnow()
    fields: dict[str, Any] = {
        "name": answers.get("name") or None,
        "organisation": answers.get("organisation"),
        "province": answers.get("province") or None,
        "language": answers["language"],
    }  # the conversation's, if she chose none
    if answers.get("remind_by") in ("sms", "voice"):
        fields["reminder_channel"] = answers["remind_by"]
    if answers.get("consent") == "yes":
        fields["consent_at"] = now
    member = _insert_new(session, phone, fields, now)
    if member is None:  # she was known already (a text, an import, an earlier registration)
        member = first_contact(session, phone, language=fields["language"], source="ussd")
        with session.no_autoflush:  # one UPDATE at the end, not one per lazy load
            member.name = fields["name"] or member.name
            member.organisation = fields["organisation"]
            member.province = fields["province"] or member.province
            member.language = answers.get("language") or member.language
            member.reminder_channel = fields.get("reminder_channel", member.reminder_channel)
            if "consent_at" in fields:
                member.consent_at, member.erased_at = now, None
            if answers.get("topics"):
                set_topics(member, answers["topics"])
    elif answers.get("topics"):
        set_topics(member, answers["topics"])
    session.flush()
    return member


def _insert_new(session: Session, phone: str, fields: dict[str, Any], now: datetime) -> Member | None:
    """Her row, made with ``fields``; None if the number has a row already (also when
    it appeared a moment ago: two first contacts at once converge, as in
    ``first_contact``)."""
    dialect = session.get_bind().dialect
    if not dialect.insert_returning:  # an SQLite older than 3.35
        return None
    member = session.scalar(
        upsert_dialect(dialect.name)
        .insert(Member)
        .values(phone=phone, source="ussd", created_at=now, updated_at=now, **fields)
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(Member)
        .options(lazyload(Member.topic_rows))
    )
    if member is not None:
        set_committed_value(member, "topic_rows", [])  # a row just made has none: no SELECT
    return member


def set_language(session: Session, phone: str, language: str) -> Member | None:
    member = by_phone(session, phone)
    if member is not None:
        member.language = language
        session.flush()
    return member


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[ImportRowError] = field(default_factory=list)


def import_rows(
    session: Session, rows: Iterable[tuple[int, dict[str, str]]], vocabulary: Vocabulary, default_language: str
) -> ImportReport:
    """Upsert members by phone. Bad rows are reported and skipped; good rows are kept.

    The caller commits once at the end, so an interrupted import writes nothing.
    A ``consent`` column (yes, or a date) is honoured when present: import consent
    only if you collected it, because members without it are never messaged.
    """
    report = ImportReport()
    seen: dict[str, int] = {}
    convert = lambda row: _member_fields(row, vocabulary, default_language)  # noqa: E731
    for line, fields in checked_rows(rows, convert, report.rejected):
        phone = fields.pop("phone")
        if phone in seen:
            problem = InputProblem("same phone as line %(line)s", line=seen[phone])
            report.rejected.append(ImportRowError(line, str(problem), problem))
            continue
        seen[phone] = line
        member = by_phone(session, phone)
        if member is None:
            member = Member(phone=phone, source="import")
            session.add(member)
            report.created += 1
        else:
            report.updated += 1
        topics = fields.pop("topics")
        for key, value in fields.items():
            if value is not None:
                setattr(member, key, value)
        if topics:
            set_topics(member, topics)
    session.flush()
    return report


def _member_fields(row: dict[str, str], vocabulary: Vocabulary, default_language: str) -> dict:
    """One row's fields; every problem of the row at once (``RowProblems``)."""
    problems: list[InputProblem] = []
    phone = to_e164(row.get("phone", ""))
    if phone is None or not is_valid(phone):
        problems.append(
            InputProblem(
                "phone %(value)s is not a valid number (use +856 20 xxxx xxxx or 020 xxxx xxxx)",
                value=repr(row.get("phone", "")),
            )
        )
    name = row.get("name", "")
    if len(name) > 80:
        problems.append(InputProblem("name is longer than 80 characters"))
    organisation = row.get("organisation", "")
    if len(organisation) > 120:
        problems.append(InputProblem("organisation is longer than 120 characters"))
    province = None
    if row.get("province"):
        province = vocabulary.province(row["province"])
        if province is None:
            problems.append(_unknown(vocabulary, "provinces", row["province"]))
    language = default_language
    if row.get("language"):
        language = vocabulary.language(row["language"])
        if language is None:
            problems.append(
                InputProblem(
                    "unknown language %(value)s (use %(choices)s)",
                    value=repr(row["language"]),
                    choices=", ".join(dict.fromkeys(vocabulary.languages.values())),
                )
            )
    topics = []
    for word in split_list(row.get("topics", "")):
        topic = vocabulary.topic(word)
        if topic is None:
            problems.append(_unknown(vocabulary, "topics", word))
        else:
            topics.append(topic)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise RowProblems(problems)
    fields: dict[str, Any] = {
        "phone": phone,
        "name": name or None,
        "organisation": organisation or None,
        "province": province,
        "language": language,
        "topics": topics,
    }
    consent = row.get("consent", "")
    if consent:
        fields["consent_at"] = _consent_time(consent)
    return fields


def _unknown(vocabulary: Vocabulary, list_name: str, typed: str) -> InputProblem:
    """An unknown province or topic, with the names it could be."""
    could = vocabulary.suggest(list_name, typed)
    if len(could) > 1 and all(holds(name, typed) for name in could):
        return InputProblem("%(value)s could be %(choices)s: write which", value=repr(typed), choices=" / ".join(could))
    if list_name == "provinces":
        if could:
            return InputProblem(
                "unknown province %(value)s; did you mean %(choices)s?", value=repr(typed), choices=" / ".join(could)
            )
        return InputProblem("unknown province %(value)s", value=repr(typed))
    if could:
        return InputProblem(
            "unknown topic %(value)s; did you mean %(choices)s?", value=repr(typed), choices=" / ".join(could)
        )
    return InputProblem("unknown topic %(value)s", value=repr(typed))


class RowProblems(InputProblem):
    """Every problem of one row, said together."""

    def __init__(self, problems: list[InputProblem]):
        self.problems = problems
        super().__init__("%(problems)s", problems="; ".join(str(p) for p in problems))


def _consent_time(text: str) -> datetime:
    if text.casefold() in _CONSENT_WORDS:
        return utcnow()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputProblem("consent %(value)s is neither yes nor a date like 2026-05-01", value=repr(text)) from None
    return when if when.tzinfo else when.replace(tzinfo=utcnow().tzinfo)


def export_rows(
    session: Session, where=(), words: dict | None = None, zone: ZoneInfo | None = None
) -> Iterator[dict[str, str]]:
    """The members not erased (and matching ``where``), as CSV-ready rows: the same
    columns as an import, plus status. With ``words`` (list name -> {key: its name}),
    provinces, languages and topics are written as names, which an import reads back;
    with ``zone``, times are local."""
    query = select(Member).where(Member.erased_at.is_(None), *where).order_by(Member.id)
    name = lambda list_name, key: (words or {}).get(list_name, {}).get(key, key)  # noqa: E731

    def when(moment) -> str:
        if moment is None:
            return ""
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if zone else moment.isoformat()

    for member in session.scalars(query).yield_per(500):
        yield {
            "phone": member.phone or "",
            "name": member.name or "",
            "organisation": member.organisation or "",
            "province": name("provinces", member.province) if member.province else "",
            "language": name("languages", member.language),
            "topics": ";".join(name("topics", topic) for topic in member.topics),
            "consent_at": when(member.consent_at),
            "opted_out_at": when(member.opted_out_at),
            "opted_in_at": when(member.opted_in_at),
        }
