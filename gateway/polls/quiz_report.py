"""Which quiz questions members get wrong, by province and language, and their scores.

Questions come from the flows (their order and wording), answers from the
database. Only finished attempts count toward scores; every stored answer
counts toward its question.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.content.prompts import Catalog
from gateway.engine import FlowBook, Text
from gateway.polls.charts import Bar, Chart
from gateway.polls.results import UNKNOWN
from gateway.store.models import Member, QuizAnswer, QuizAttempt


@dataclass
class Share:
    correct: int = 0
    answered: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.answered if self.answered else 0.0


@dataclass
class Question:
    key: str
    text: str
    overall: Share = field(default_factory=Share)
    by_province: dict[str, Share] = field(default_factory=lambda: defaultdict(Share))
    by_language: dict[str, Share] = field(default_factory=lambda: defaultdict(Share))


@dataclass
class QuizReport:
    quiz: str
    questions: list[Question]
    attempts: int  # finished
    scores: dict[int, int]  # score -> finished attempts
    total: int  # questions in the quiz
    first: datetime | None
    last: datetime | None


def compute(db: Session, book: FlowBook, catalog: Catalog, lang: str, quiz: str = "digital_safety") -> QuizReport:
    nodes = book.quiz_questions(quiz)
    questions = {node.question: Question(node.question, catalog.render(Text(node.prompt), lang)) for node in nodes}
    rows = db.execute(
        select(QuizAnswer.question, QuizAnswer.correct, Member.province, Member.language, func.count())
        .join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
        .outerjoin(Member, Member.id == QuizAttempt.member_id)
        .where(QuizAttempt.quiz == quiz)
        .group_by(QuizAnswer.question, QuizAnswer.correct, Member.province, Member.language)
    )
    for key, correct, province, language, count in rows:
        question = questions.get(key)
        if question is None:  # a question since removed from the flow
            continue
        for share in (
            question.overall,
            question.by_province[province or UNKNOWN],
            question.by_language[language or UNKNOWN],
        ):
            share.answered += count
            share.correct += count if correct else 0
    finished = QuizAttempt.finished_at.is_not(None)
    scores = dict(
        db.execute(
            select(QuizAttempt.score, func.count())
            .where(QuizAttempt.quiz == quiz, finished)
            .group_by(QuizAttempt.score)
        ).all()
    )
    first, last = db.execute(
        select(func.min(QuizAttempt.finished_at), func.max(QuizAttempt.finished_at)).where(
            QuizAttempt.quiz == quiz, finished
        )
    ).one()
    return QuizReport(
        quiz,
        list(questions.values()),
        sum(scores.values()),
        {score: scores.get(score, 0) for score in range(len(nodes) + 1)},
        len(nodes),
        first,
        last,
    )


def table(report: QuizReport) -> list[list]:
    rows: list[list] = [["section", "group", "value", "question", "text", "answered", "correct", "percent"]]
    for question in report.questions:
        groups = [("all", "all", question.overall)]
        groups += [("province", name, share) for name, share in sorted(question.by_province.items())]
        groups += [("language", name, share) for name, share in sorted(question.by_language.items())]
        for group, value, share in groups:
            rows.append(
                [
                    "question",
                    group,
                    value,
                    question.key,
                    question.text,
                    share.answered,
                    share.correct,
                    f"{share.percent:.1f}",
                ]
            )
    for score, count in report.scores.items():
        percent = 100.0 * count / report.attempts if report.attempts else 0.0
        rows.append(["score", "all", f"{score}/{report.total}", "", "", count, "", f"{percent:.1f}"])
    return rows


def charts(
    report: QuizReport, lang: str, catalog: Catalog, now: datetime, title_key: str = "report.digital_safety"
) -> tuple[Chart, Chart]:
    """Percent correct per question, and how many attempts got each score, under the
    quiz's title (``title_key``: the shipped quiz's, or ``quizzes.<name>.title``)."""
    named = {"quiz": {"text": title_key}}
    subtitle = catalog.render(
        Text(
            "report.quiz_subtitle",
            {
                "attempts": f"{report.attempts:,}",
                "first": catalog.format_day(report.first, lang) if report.first else "–",
                "last": catalog.format_day(report.last, lang) if report.last else "–",
            },
        ),
        lang,
    )
    footer = catalog.render(Text("report.footer", {"made": catalog.format_day(now, lang)}), lang)
    questions = Chart(
        catalog.render(Text("report.quiz_title", named), lang),
        subtitle,
        [
            Bar(f"{n}. {q.text}", q.overall.percent, f"{q.overall.percent:.0f}% ({q.overall.answered:,})")
            for n, q in enumerate(report.questions, start=1)
        ],
        scale_max=100,
        footer=footer,
    )
    scores = Chart(
        catalog.render(Text("report.scores_title", named), lang),
        subtitle,
        [
            Bar(
                f"{score}/{report.total}",
                count,
                f"{count:,} ({100.0 * count / report.attempts if report.attempts else 0:.0f}%)",
            )
            for score, count in report.scores.items()
        ],
        footer=footer,
    )
    return questions, scores
