"""Small helpers shared by tests (setting up members and sessions through the store)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from gateway.store import members, schedule
from gateway.store.models import Member


def add_member(db, phone: str, *, name: str = "Noy", language: str = "lo",
               topics=("nutrition",), province: str = "savannakhet",
               registered: bool = True) -> Member:
    member = Member(phone=phone, name=name, language=language, province=province,
                    consent_at=datetime.now(timezone.utc) if registered else None)
    db.add(member)
    members.set_topics(member, topics)
    db.flush()
    return member


def add_session(db, *, topic: str = "nutrition", language: str = "lo",
                starts: str = "2030-01-11 14:00", capacity: int | None = None,
                title_lo: str = "ໂພຊະນາການແມ່ ແລະ ເດັກ",
                title_en: str = "Feeding mothers and babies", kind: str = "hangout",
                cancelled: bool = False):
    row = schedule.add(db, {
        "titles": {"lo": title_lo, "en": title_en}, "kind": kind, "topic": topic,
        "language": language,
        "starts_at": datetime.fromisoformat(starts).replace(tzinfo=ZoneInfo("Asia/Vientiane")),
        "duration_minutes": 60, "capacity": capacity, "place": None,
        "join_link": "meet.jit.si/nutrition", "dial_in": None})
    if cancelled:
        row.cancelled_at = datetime.now(timezone.utc)
    db.flush()
    return row


def walk(phone, *inputs: str) -> list[str]:
    """Dial, then press each input; return every reply."""
    replies = [phone.dial()]
    for typed in inputs:
        replies.append(phone.press(typed))
    return replies


def body(reply: str) -> str:
    return reply.split(" ", 1)[1]
