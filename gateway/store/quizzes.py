"""Quiz attempts and answers, written from the engine's quiz effects."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.engine.events import FinishQuiz, RecordAnswer
from gateway.store.models import QuizAnswer, QuizAttempt


# Built once, as members.by_phone's: each quiz answer on USSD runs both.
_ATTEMPT = select(QuizAttempt).where(QuizAttempt.ref == bindparam("ref"))
_ANSWER = select(QuizAnswer).where(
    QuizAnswer.attempt_id == bindparam("attempt_id"), QuizAnswer.question == bindparam("question")
)


def _attempt(session: Session, ref: str, quiz: str, member_id: int | None, channel: str, now: datetime) -> QuizAttempt:
    attempt = session.scalar(_ATTEMPT, {"ref": ref})
    if attempt is None:
        attempt = QuizAttempt(ref=ref, quiz=quiz, member_id=member_id, channel=channel, started_at=now)
        session.add(attempt)
        session.flush()
    return attempt


def record_answer(session: Session, effect: RecordAnswer, member_id: int | None, channel: str, now: datetime) -> None:
    """Store an answer once; a replayed answer to the same question replaces it."""
    attempt = _attempt(session, effect.attempt, effect.quiz, member_id, channel, now)
    answer = session.scalar(_ANSWER, {"attempt_id": attempt.id, "question": effect.question})
    if answer is None:
        session.add(
            QuizAnswer(
                attempt_id=attempt.id,
                question=effect.question,
                choice=effect.choice,
                correct=effect.correct,
                answered_at=now,
            )
        )
    else:
        answer.choice, answer.correct = effect.choice, effect.correct
    session.flush()


def finish(session: Session, effect: FinishQuiz, member_id: int | None, channel: str, now: datetime) -> None:
    attempt = _attempt(session, effect.attempt, effect.quiz, member_id, channel, now)
    attempt.score, attempt.total = effect.score, effect.total
    attempt.finished_at = attempt.finished_at or now
    session.flush()
