"""Quizzes as content: ``quizzes/<name>.yaml``, one document per quiz, in any number.

An organiser writes a title, and 1 to 10 questions, each with 2 to 4 options, the
right one and a short why, in every language; optionally the dates it is open and
the session it follows. Each document becomes a flow (``quiz_<name>``) of the same
``quiz_question`` steps the shipped digital-safety quiz is made of, with its texts
added to each language's catalog under ``quizzes.<name>.…``. So the flow check,
the page fit with long sample values, the goldens' renderers and the hop walk
check a written quiz exactly as they check the shipped one, and name the quiz
document's lines.

The ``quizzes`` flow is made here too: the Quiz menu entry, SMS's QUIZ and a call's
quiz option lead to it. It lists the quizzes open today (straight into the quiz
when only one is), the one after a session she signed up for first.

    title: {lo: "ກົດໝາຍ ແລະ ສິດ", en: "Laws and rights"}
    opens: 2026-12-10          # optional, local dates
    closes: 2027-01-10
    session: 12                # optional: it follows this session
    questions:
      - ask: {lo: "…", en: "…"}
        options:
          - {lo: "…", en: "…"}
          - {lo: "…", en: "…"}
        answer: 2
        why: {lo: "…", en: "…"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

import yaml

from gateway.content.flows import Problem
from gateway.content.written import Written, open_document
from gateway.engine.model import ActionNode, EndNode, Flow, MenuNode, QuizQuestionNode, QuizScoreNode

MAX_QUESTIONS, MIN_OPTIONS, MAX_OPTIONS = 10, 2, 4
SHIPPED = ("safety_quiz", "digital_safety", "quiz.safety_title")  # (flow, quiz name, its title's key)
MENU_FLOW = "quizzes"


@dataclass
class Quiz:
    """One quiz document, read: its flow and its texts by language."""

    name: str
    flow: Flow
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    opens: date | None = None
    closes: date | None = None
    session: int | None = None
    lines: dict[str, int] = field(default_factory=dict)  # text key -> its line in the document
    written: Written | None = None

    @property
    def title_key(self) -> str:
        return f"quizzes.{self.name}.title"


def flow_name(quiz: str) -> str:
    return f"quiz_{quiz}"


def read(document: str, body: str, problems: list[Problem]) -> Quiz | None:
    """The quiz in ``body`` (document ``quizzes/<name>.yaml``); problems name its lines."""
    doc = open_document(document, body, problems, "quizzes", "quiz")
    if doc is None:
        return None
    name, data, prefix = doc.name, doc.data, doc.prefix
    doc.words(data.get("title"), f"{prefix}.title", doc.line("title"))
    questions = data.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        problems.append(
            Problem.said(
                f"{document}:{doc.line('questions')}", "a quiz has 1 to %(most)s questions", most=MAX_QUESTIONS
            )
        )
        return None
    nodes: dict[str, Any] = {}
    for number, question in enumerate(questions, start=1):
        where = getattr(question, "line", data.line)
        node_id, next_id = f"q{number}", (f"q{number + 1}" if number < len(questions) else "score")
        if not isinstance(question, dict):
            problems.append(Problem(f"{document}:{where}", f"question {number} must be a mapping"))
            continue
        options = question.get("options")
        if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            problems.append(
                Problem.said(
                    f"{document}:{where}",
                    "question %(number)s needs %(least)s to %(most)s options",
                    number=number,
                    least=MIN_OPTIONS,
                    most=MAX_OPTIONS,
                )
            )
            continue
        answer = question.get("answer")
        if not isinstance(answer, int) or not 1 <= answer <= len(options):
            problems.append(
                Problem.said(
                    f"{document}:{where}",
                    "question %(number)s: the right answer is the number of one of its options (1 to %(count)s)",
                    number=number,
                    count=len(options),
                )
            )
            continue
        option_lines = [getattr(o, "line", where) for o in options]
        nodes[node_id] = QuizQuestionNode(
            id=node_id,
            flow=flow_name(name),
            line=where,
            quiz=name,
            question=node_id,
            prompt=doc.words(question.get("ask"), f"{prefix}.{node_id}.ask", where),
            options=tuple(
                doc.words(option, f"{prefix}.{node_id}.a{n}", option_lines[n - 1])
                for n, option in enumerate(options, start=1)
            ),
            answer=answer,
            explain=doc.words(question.get("why"), f"{prefix}.{node_id}.why", where),
            next=next_id,
        )
    nodes["score"] = QuizScoreNode(id="score", flow=flow_name(name), line=data.line, quiz=name, prompt="quiz.score")
    quiz = Quiz(
        name,
        Flow(flow_name(name), "q1", nodes, document, ("ussd", "sms", "voice"), len(questions) + 3),
        doc.texts,
        lines=doc.lines,
    )
    quiz.opens, quiz.closes = doc.dates()
    quiz.session = doc.session()
    quiz.written = doc
    return quiz


def listed(book) -> list[dict]:
    """The quizzes on the quiz list of ``book``: flow, quiz, title key, dates, session."""
    menu = book.flows.get(MENU_FLOW)
    return list(menu.nodes["find"].params["quizzes"]) if menu is not None else []


def open_on(entries: list[dict], day: str) -> list[dict]:
    """The entries open on ``day`` (an ISO date, local time): no dates means always."""
    return [entry for entry in entries if (entry.get("opens") or day) <= day <= (entry.get("closes") or day)]


def menu_flow(quizzes: list[Quiz], shipped: bool, timezone: str) -> Flow:
    """The ``quizzes`` flow: what the Quiz menu entry, QUIZ by SMS and a call lead to."""
    listed = ([{"flow": SHIPPED[0], "quiz": SHIPPED[1], "title": SHIPPED[2]}] if shipped else []) + [
        {
            "flow": q.flow.name,
            "quiz": q.name,
            "title": q.title_key,
            "opens": q.opens.isoformat() if q.opens else None,
            "closes": q.closes.isoformat() if q.closes else None,
            "session": q.session,
        }
        for q in quizzes
    ]
    into = {entry["flow"]: f"{entry['flow']}:" for entry in listed}
    nodes = {
        "find": ActionNode(
            id="find",
            flow=MENU_FLOW,
            line=1,
            action="open_quizzes",
            params={"quizzes": listed, "timezone": timezone},
            outcomes={**into, "some": "pick", "none": "none"},
        ),
        "pick": MenuNode(
            id="pick", flow=MENU_FLOW, line=1, prompt="quiz.pick", options_var="quizzes", save_as="quiz", next="go"
        ),
        "go": ActionNode(id="go", flow=MENU_FLOW, line=1, action="chosen_quiz", outcomes={**into, "none": "none"}),
        "none": EndNode(id="none", flow=MENU_FLOW, line=1, prompt="quiz.none"),
    }
    # Its own screens are the list at most (2 from the dial); every quiz's budget counts it.
    return Flow(MENU_FLOW, "find", nodes, "(made from quizzes/)", ("ussd", "sms", "voice"), 2)


def to_document(form: Mapping[str, Any]) -> str:
    """A quiz document from the builder's fields: ``title`` ({lang: text}), ``opens``,
    ``closes``, ``session``, and ``questions`` ([{ask, options: [{lang: text}], answer,
    why}]). Written with PyYAML's safe dumper: what is read back is what was typed."""
    data: dict[str, Any] = {"title": dict(form["title"])}
    for key in ("opens", "closes", "session"):
        if form.get(key):
            data[key] = form[key]
    data["questions"] = [
        {
            "ask": dict(q["ask"]),
            "options": [dict(o) for o in q["options"]],
            "answer": q["answer"],
            "why": dict(q["why"]),
        }
        for q in form["questions"]
    ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)


def to_form(body: str) -> dict[str, Any]:
    """The builder's fields from a quiz document (the inverse of ``to_document``)."""
    data = yaml.safe_load(body) or {}
    return {
        "title": dict(data.get("title") or {}),
        "opens": str(data.get("opens") or ""),
        "closes": str(data.get("closes") or ""),
        "session": data.get("session") or "",
        "questions": [
            {
                "ask": dict(q.get("ask") or {}),
                "options": [dict(o) for o in q.get("options") or []],
                "answer": q.get("answer"),
                "why": dict(q.get("why") or {}),
            }
            for q in data.get("questions") or []
            if isinstance(q, dict)
        ],
    }
