"""Who a broadcast reaches: all members, or filtered by topic, province, language or
enrolment in a session. Only registered members (consent given, not erased) with
a phone number, and never anyone opted out.

On the command line an audience reads ``all`` or
``topic=nutrition,wash;province=bokeo;language=lo;session=3``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Select, select

from gateway.content.vocabulary import Vocabulary
from gateway.phone import FICTIONAL_LIKE
from gateway.store.models import Enrolment, Member, MemberTopic


@dataclass(frozen=True)
class Audience:
    topics: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    session_id: int | None = None

    @classmethod
    def parse(cls, spec: str, vocabulary: Vocabulary) -> "Audience":
        spec = spec.strip()
        if spec.lower() in ("all", "everyone", ""):
            return cls()
        found: dict = {}
        lookups = {
            "topic": ("topics", vocabulary.topic),
            "province": ("provinces", vocabulary.province),
            "language": ("languages", vocabulary.language),
        }
        for part in spec.split(";"):
            key, _, values = part.partition("=")
            key = key.strip().lower().rstrip("s")
            if key == "session":
                if not values.strip().isdigit() or len(values.strip()) > 9:
                    raise ValueError(f"session={values!r}: give the session's id, e.g. session=3")
                found["session_id"] = int(values)
                continue
            if key not in lookups or not values.strip():
                raise ValueError(
                    f"cannot read {part!r}; write e.g. topic=nutrition;province=bokeo "
                    "(filters: topic, province, language, session) or 'all'"
                )
            field, lookup = lookups[key]
            keys = []
            for word in values.split(","):
                item = lookup(word)
                if item is None:
                    raise ValueError(f"unknown {key} {word.strip()!r}")
                keys.append(item)
            found[field] = tuple(keys)
        return cls(**found)

    @classmethod
    def from_dict(cls, data: dict) -> "Audience":
        return cls(
            tuple(data.get("topics", ())),
            tuple(data.get("provinces", ())),
            tuple(data.get("languages", ())),
            data.get("session_id"),
        )

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def describe(self) -> str:
        parts = [
            f"{name}: {', '.join(values)}"
            for name, values in (("topics", self.topics), ("provinces", self.provinces), ("languages", self.languages))
            if values
        ]
        if self.session_id:
            parts.append(f"enrolled in session {self.session_id}")
        return "; ".join(parts) or "all registered members"

    def members(self) -> Select:
        """SELECT Member rows in the audience, each once, in id order."""
        return self.select(Member)

    def select(self, *columns) -> Select:
        """The audience's members as ``columns`` (e.g. ``Member.id, Member.name``):
        big sends read only what they need instead of whole ORM objects."""
        query = select(*columns).where(
            Member.consent_at.is_not(None),
            Member.erased_at.is_(None),
            Member.opted_out_at.is_(None),
            Member.phone.is_not(None),
            # the simulator's test members: never sent, never reminded
            Member.phone.not_like(FICTIONAL_LIKE),
        )
        if self.topics:
            query = query.where(Member.id.in_(select(MemberTopic.member_id).where(MemberTopic.topic.in_(self.topics))))
        if self.provinces:
            query = query.where(Member.province.in_(self.provinces))
        if self.languages:
            query = query.where(Member.language.in_(self.languages))
        if self.session_id:
            query = query.where(
                Member.id.in_(select(Enrolment.member_id).where(Enrolment.session_id == self.session_id))
            )
        return query.order_by(Member.id)
