"""Surveys as content: ``surveys/<name>.yaml``, one document per survey, in any number.

A feedback or needs survey of 1 to 5 questions, each a choice (2 to 6 options), a
number from 0 to 10, or a short text, in every language; optionally the days it
is open and the session it follows. Like a quiz, each document becomes a flow
(``survey_<name>``) of ordinary menu and input screens, with its texts added to
each language's catalog under ``surveys.<name>.…``, so the flow check, the page
fit and the hop walk check it as they check every flow. Surveys run on USSD and
SMS; a call cannot take a typed answer.

A **sensitive** survey is marked when it is written. Its first screen tells the
member that only totals are seen and that her answers are deleted when it
closes (``store.surveys.close`` does that, and the reports hide every group of
fewer than five answers: ``polls.survey_report``).

The ``surveys`` flow is made here too: Surveys on the menu and SMS's SURVEY lead
to it. It lists the surveys open today with, when she has any, the polls sent to
her; straight in when there is only one thing to answer. With no survey open (and
on a call, which lists none) it is the polls flow, as the menu was before surveys.

    title: {lo: "ຄວາມເຫັນກ່ຽວກັບການອົບຮົມ", en: "Training feedback"}
    sensitive: false
    opens: 2026-12-10          # optional, local dates
    closes: 2027-01-10
    session: 12                # optional: it follows this session
    questions:
      - kind: scale            # a number from 0 to 10
        ask: {lo: "…", en: "…"}
      - kind: choice
        ask: {lo: "…", en: "…"}
        options:
          - {lo: "…", en: "…"}
          - {lo: "…", en: "…"}
      - kind: text             # up to 160 characters
        ask: {lo: "…", en: "…"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

import yaml

from gateway.content.flows import Problem
from gateway.content.written import Written, open_document
from gateway.engine.model import ActionNode, EndNode, Flow, InputNode, MenuNode, MenuOption
from gateway.engine.validators import NumberValidator, TextValidator

MAX_QUESTIONS, MIN_OPTIONS, MAX_OPTIONS = 5, 2, 6
KINDS = ("choice", "scale", "text")
SCALE = (0, 10)
MAX_ANSWER = 160  # one SMS of Latin text; a short answer, not a letter
MENU_FLOW = "surveys"
POLLS = "polls"  # the entry on the list that leads to the polls sent to her
CHANNELS = ("ussd", "sms")


@dataclass
class Survey:
    """One survey document, read: its flow, its texts by language, what it asks."""

    name: str
    flow: Flow
    kinds: tuple[str, ...]
    options: tuple[int, ...]  # how many options each question has (0: not a choice)
    sensitive: bool = False
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    opens: date | None = None
    closes: date | None = None
    session: int | None = None
    lines: dict[str, int] = field(default_factory=dict)
    written: Written | None = None

    @property
    def title_key(self) -> str:
        return title_key(self.name)


def flow_name(survey: str) -> str:
    return f"survey_{survey}"


def title_key(survey: str) -> str:
    return f"surveys.{survey}.title"


def answer_var(survey: str, number: int) -> str:
    """Where a conversation holds an answer until the survey saves it. The survey's
    flow name starts it, so closing a sensitive survey finds it in Redis."""
    return f"{flow_name(survey)}__q{number}"


def read(document: str, body: str, problems: list[Problem]) -> Survey | None:
    """The survey in ``body`` (document ``surveys/<name>.yaml``); problems name its lines."""
    doc = open_document(document, body, problems, "surveys", "survey")
    if doc is None:
        return None
    name, data, prefix, words = doc.name, doc.data, doc.prefix, doc.words
    words(data.get("title"), title_key(name), doc.line("title"))
    sensitive = data.get("sensitive", False)
    if not isinstance(sensitive, bool):
        problems.append(Problem(f"{document}:{doc.line('sensitive')}", "sensitive is true or false"))
        sensitive = True  # never read a mistake as "not sensitive"
    questions = data.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        problems.append(
            Problem.said(
                f"{document}:{doc.line('questions')}", "a survey has 1 to %(most)s questions", most=MAX_QUESTIONS
            )
        )
        return None
    flow = flow_name(name)
    nodes: dict[str, Any] = {}
    kinds, counts = [], []
    for number, question in enumerate(questions, start=1):
        where = getattr(question, "line", data.line)
        node_id, next_id = f"q{number}", (f"q{number + 1}" if number < len(questions) else "save")
        if not isinstance(question, dict):
            problems.append(Problem(f"{document}:{where}", f"question {number} must be a mapping"))
            continue
        kind = question.get("kind", "choice")
        if kind not in KINDS:
            problems.append(
                Problem.said(
                    f"{document}:{where}",
                    "question %(number)s: kind is choice, scale (a number from 0 to 10) or text",
                    number=number,
                )
            )
            continue
        ask = words(question.get("ask"), f"{prefix}.{node_id}.ask", where)
        common = {"id": node_id, "flow": flow, "line": where, "prompt": ask, "next": next_id}
        if kind == "choice":
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
            labels = tuple(
                MenuOption(label=words(option, f"{prefix}.{node_id}.o{m}", getattr(option, "line", where)), value=m)
                for m, option in enumerate(options, start=1)
            )
            nodes[node_id] = MenuNode(**common, options=labels, save_as=answer_var(name, number))
            counts.append(len(options))
        else:
            validator = NumberValidator(*SCALE) if kind == "scale" else TextValidator(1, MAX_ANSWER)
            nodes[node_id] = InputNode(**common, save_as=answer_var(name, number), validator=validator, voice="digits")
            counts.append(0)
        kinds.append(kind)
    saved = [answer_var(name, n) for n in range(1, len(questions) + 1)]
    nodes["save"] = ActionNode(
        id="save",
        flow=flow,
        line=data.line,
        action="save_survey",
        params={"survey": name, "answers": saved, "kinds": kinds, "sensitive": sensitive},
        outcomes={"saved": "thanks", "closed": "closed"},
    )
    nodes["thanks"] = EndNode(id="thanks", flow=flow, line=data.line, prompt="survey.thanks")
    nodes["closed"] = EndNode(id="closed", flow=flow, line=data.line, prompt="survey.closed")
    start = "q1"
    if sensitive:  # her first screen says what happens to her answers, before she gives any
        nodes["private"] = MenuNode(
            id="private",
            flow=flow,
            line=data.line,
            prompt="survey.private",
            options=(MenuOption(label="survey.begin", next="q1"), MenuOption(label="survey.not_now", next="stopped")),
        )
        nodes["stopped"] = EndNode(id="stopped", flow=flow, line=data.line, prompt="survey.stopped")
        start = "private"
    # The list and its answer screen, the notice, then one screen a question.
    budget = len(questions) + 3 + (1 if sensitive else 0)
    survey = Survey(
        name,
        Flow(flow, start, nodes, document, CHANNELS, budget),
        tuple(kinds),
        tuple(counts),
        sensitive,
        doc.texts,
        lines=doc.lines,
        written=doc,
    )
    survey.opens, survey.closes = doc.dates()
    survey.session = doc.session()
    return survey


def listed(book) -> list[dict]:
    """The surveys of ``book``: flow, survey, title key, kinds, sensitive, dates, session."""
    menu = book.flows.get(MENU_FLOW)
    return list(menu.nodes["find"].params["surveys"]) if menu is not None else []


def menu_flow(surveys: list[Survey], timezone: str) -> Flow:
    """The ``surveys`` flow: what Polls on the menu and SURVEY by SMS lead to."""
    listed = [
        {
            "flow": s.flow.name,
            "survey": s.name,
            "title": s.title_key,
            "kinds": list(s.kinds),
            "options": list(s.options),
            "sensitive": s.sensitive,
            "opens": s.opens.isoformat() if s.opens else None,
            "closes": s.closes.isoformat() if s.closes else None,
            "session": s.session,
        }
        for s in surveys
    ]
    into = {entry["flow"]: f"{entry['flow']}:" for entry in listed}
    nodes = {
        "find": ActionNode(
            id="find",
            flow=MENU_FLOW,
            line=1,
            action="open_surveys",
            params={"surveys": listed, "timezone": timezone, "channels": list(CHANNELS)},
            outcomes={**into, POLLS: "polls:", "some": "pick"},
        ),
        "pick": MenuNode(
            id="pick", flow=MENU_FLOW, line=1, prompt="survey.pick", options_var="surveys", save_as="survey", next="go"
        ),
        "go": ActionNode(id="go", flow=MENU_FLOW, line=1, action="chosen_survey", outcomes={**into, POLLS: "polls:"}),
    }
    return Flow(MENU_FLOW, "find", nodes, "(made from surveys/)", ("ussd", "sms", "voice"), 2)


def to_document(form: Mapping[str, Any]) -> str:
    """A survey document from the builder's fields: ``title`` ({lang: text}),
    ``sensitive``, ``opens``, ``closes``, ``session`` and ``questions`` ([{kind, ask,
    options}]). Written with PyYAML's safe dumper: what is read back is what was typed."""
    data: dict[str, Any] = {"title": dict(form["title"]), "sensitive": bool(form.get("sensitive"))}
    for key in ("opens", "closes", "session"):
        if form.get(key):
            data[key] = form[key]
    data["questions"] = [
        {
            "kind": q["kind"],
            "ask": dict(q["ask"]),
            **({"options": [dict(o) for o in q["options"]]} if q["kind"] == "choice" else {}),
        }
        for q in form["questions"]
    ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)


def to_form(body: str) -> dict[str, Any]:
    """The builder's fields from a survey document (the inverse of ``to_document``)."""
    data = yaml.safe_load(body) or {}
    return {
        "title": dict(data.get("title") or {}),
        "sensitive": data.get("sensitive") is True,
        "opens": str(data.get("opens") or ""),
        "closes": str(data.get("closes") or ""),
        "session": data.get("session") or "",
        "questions": [
            {
                "kind": q.get("kind", "choice"),
                "ask": dict(q.get("ask") or {}),
                "options": [dict(o) for o in q.get("options") or []],
            }
            for q in data.get("questions") or []
            if isinstance(q, dict)
        ],
    }
