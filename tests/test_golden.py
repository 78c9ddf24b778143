"""Golden flow cases: key presses -> exact USSD replies and what ends up stored.

Each ``tests/cases/*.yaml`` is one member's walk through a shipped flow in one
language, through the real webhook, database and Redis. ``press: DIAL`` starts
a new session. Regenerate with ``pytest --update-goldens`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from gateway.runtime import runtime_of
from gateway.store import members
from gateway.store.models import Enrolment, QuizAnswer, QuizAttempt

from .helpers import add_member, add_session

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def stored_summary(app, phone: str) -> dict:
    with runtime_of(app).db.session() as db:
        member = members.by_phone(db, phone)
        summary: dict = {"member": None}
        if member is not None:
            summary["member"] = {
                "name": member.name,
                "organisation": member.organisation,
                "province": member.province,
                "language": member.language,
                "topics": member.topics,
                "registered": member.registered,
                "reminders_by": member.reminder_channel,
            }
            summary["enrolments"] = db.scalar(
                select(func.count()).select_from(Enrolment).where(Enrolment.member_id == member.id)
            )
            attempts = db.scalars(select(QuizAttempt).where(QuizAttempt.member_id == member.id)).all()
            summary["quiz"] = [
                {
                    "score": a.score,
                    "total": a.total,
                    "answers": db.scalar(
                        select(func.count()).select_from(QuizAnswer).where(QuizAnswer.attempt_id == a.id)
                    ),
                }
                for a in attempts
            ]
        return summary


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path, app, phone_factory, request):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    with runtime_of(app).db.session() as db:
        for spec in case.get("setup", {}).get("members", []):
            add_member(db, **spec)
        for spec in case.get("setup", {}).get("sessions", []):
            add_session(db, **spec)
    phone = phone_factory(case["phone"])
    walked = []
    for hop in case["steps"]:
        press = str(hop["press"])
        reply = phone.dial() if press == "DIAL" else phone.press(press)
        walked.append({"press": press, "reply": reply})
    summary = stored_summary(app, case["phone"])
    if request.config.getoption("--update-goldens"):
        case["steps"], case["expect"] = walked, summary
        path.write_text(yaml.safe_dump(case, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
        return
    for number, (want, got) in enumerate(zip(case["steps"], walked, strict=True), start=1):
        assert got["reply"] == want["reply"], f"{path.name} step {number} (press {got['press']})"
    assert summary == case["expect"]
