"""``outreach flows hops``: how many USSD screens each flow costs a member, per language.

A USSD session lasts about 180 s and a member needs several seconds per screen,
so every flow that runs over USSD has a budget (``hop_budget`` in its YAML).
This walks each flow through the real webhook, as Africa's Talking posts it, the
way a member would: she presses 98 until she sees the option she wants, then
picks it. Screens are counted from the dial to the screen where the flow is over
(the session's END, or the menu a language change lands on).

The walk runs on a throwaway instance (its own SQLite file and embedded Redis),
never on the gateway's own database. ``tests/test_hops.py`` asserts the budgets
and ``bench/hops.py`` writes the table into ``docs/flows.md``.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import click

from gateway.cli.flows import flows
from gateway.engine import Text
from gateway.engine.model import FlowBook
from gateway.runtime import runtime_of

MORE = "98"
# Lao may take at most this many times the screens of English for the same walk.
LAO_OVER_ENGLISH = 1.2
_OPTION = re.compile(r"^(\d+)\. (.+)$")

# What a member does on a screen: ("type", text), ("press", key), ("pick", [label keys]),
# or ("pick if listed", [label keys]): a list that shows only when she has more than
# one thing to choose from (the survey list, with or without the polls sent to her).
Intent = tuple[str, object]


@dataclass(frozen=True)
class Walk:
    """One way through a flow: ``intents(lang, book)`` says what she does."""

    flow: str
    name: str
    intents: Callable[[str, FlowBook], list[Intent]]
    registered: bool = True  # a member already (the menus) or a new number (registration)
    budgeted: bool = True  # the walk the flow's budget is held to; others are shown for context
    # Screens another flow puts in front of this one for this content (the survey list
    # before the polls): added to the flow's budget, so an install's own budget holds.
    screens_before: Callable[[FlowBook], int] = lambda book: 0


def _register(province: str, topics: tuple[str, ...]):
    def intents(lang: str, book: FlowBook) -> list[Intent]:
        region = next(
            name.removeprefix("provinces_")
            for name, items in book.lists.items()
            if name.startswith("provinces_") and province in items.items
        )
        english = [("type", "0")] if lang == "en" else []  # the welcome is Lao first
        return english + [
            ("type", "ນ້ອຍ" if lang == "lo" else "Noy"),
            ("type", "ACT Laos"),
            ("pick", [f"region.{region}"]),
            ("pick", [f"province.{province}"]),
            ("pick", [f"topic.{t}" for t in topics]),
            ("pick", ["register.consent_yes"]),
        ]

    return intents


def _into_quiz(book: FlowBook, flow: str) -> list[Intent]:
    """From the main menu into quiz ``flow``: its title on the quiz list, when several are open."""
    from gateway.content import quiz
    from gateway.store.models import utcnow

    timezone = book.flows[quiz.MENU_FLOW].nodes["find"].params["timezone"]
    listed = quiz.open_on(quiz.listed(book), utcnow().astimezone(ZoneInfo(timezone)).date().isoformat())
    steps: list[Intent] = [("pick", ["main.quiz"])]
    if len(listed) > 1:
        steps.append(("pick", [next(entry["title"] for entry in listed if entry["flow"] == flow)]))
    return steps


def _quiz(wrong: set[int], flow: str = "safety_quiz", quiz: str = "digital_safety"):
    """The quiz with the questions numbered in ``wrong`` answered wrongly."""

    def intents(lang: str, book: FlowBook) -> list[Intent]:
        steps: list[Intent] = _into_quiz(book, flow)
        for number, question in enumerate(book.quiz_questions(quiz), start=1):
            if number in wrong:
                steps += [("press", str(question.answer % len(question.options) + 1)), ("pick", ["quiz.next"])]
            else:
                steps.append(("press", str(question.answer)))
        return steps

    return intents


def _open_surveys(book: FlowBook) -> list[dict]:
    from gateway.content import quiz, survey
    from gateway.store.models import utcnow

    timezone = book.flows[survey.MENU_FLOW].nodes["find"].params["timezone"]
    return quiz.open_on(survey.listed(book), utcnow().astimezone(ZoneInfo(timezone)).date().isoformat())


def _past_the_surveys(book: FlowBook) -> list[Intent]:
    """With surveys open, the polls sent to her are one entry on their list."""
    return [("pick if listed", ["survey.polls_entry"])] if _open_surveys(book) else []


def _survey(entry: dict):
    """Survey ``entry`` answered through: the first option, 7, a short text."""

    def intents(lang: str, book: FlowBook) -> list[Intent]:
        steps: list[Intent] = [("pick", ["main.polls"]), ("pick if listed", [entry["title"]])]
        if entry["sensitive"]:
            steps.append(("pick", ["survey.begin"]))
        answers = {"choice": ("press", "1"), "scale": ("type", "7"), "text": ("type", "ok")}
        return steps + [answers[kind] for kind in entry["kinds"]]

    return intents


WALKS = (
    Walk(
        "register",
        "register: a name, an organisation, one province, two topics, consent "
        "(province and topics on their lists' last pages)",
        _register("xayaboury", ("climate", "health")),
        registered=False,
    ),
    Walk(
        "register",
        "register: the same, province and topics on the first pages",
        _register("bokeo", ("nutrition", "digital_safety")),
        registered=False,
        budgeted=False,
    ),
    Walk("safety_quiz", "quiz: 7 questions, one answered wrongly", _quiz({3})),
    Walk("safety_quiz", "quiz: 7 questions, all right", _quiz(set()), budgeted=False),
    Walk("safety_quiz", "quiz: 7 questions, all wrong", _quiz(set(range(1, 8))), budgeted=False),
    Walk(
        "next_session",
        "next session, then sign up",
        lambda lang, book: [("pick", ["main.next_session"]), ("pick", ["next_session.enrol"])],
    ),
    Walk(
        "polls",
        "a poll with one open, answered",
        lambda lang, book: [("pick", ["main.polls"])] + _past_the_surveys(book) + [("press", "2")],
        screens_before=lambda book: len(_past_the_surveys(book)),
    ),
    Walk("main", "help", lambda lang, book: [("pick", ["main.help"])]),
    Walk(
        "language",
        "change language (ends on the menu in the other language)",
        lambda lang, book: [("pick", ["main.language"]), ("pick", ["lang.en" if lang == "lo" else "lang.lo"])],
    ),
)


@dataclass
class Count:
    walk: Walk
    language: str
    screens: list[str]
    budget: int | None

    @property
    def hops(self) -> int:
        return len(self.screens)


class HopError(RuntimeError):
    """A walk could not go on: the option she wanted never showed."""


def walks_for(book: FlowBook) -> tuple[Walk, ...]:
    """``WALKS``, and for each quiz an organiser wrote, one answered all right and one
    with its first question wrong (its budget: its questions and three screens);
    for each survey, one answered through."""
    from gateway.content import survey

    written = [Walk(entry["flow"], f"survey {entry['survey']}", _survey(entry)) for entry in survey.listed(book)]
    for flow in book.flows.values():
        questions = [n for n in flow.nodes.values() if n.kind == "quiz_question"]
        if flow.name.startswith("quiz_") and questions:
            quiz = questions[0].quiz
            written += [
                Walk(flow.name, f"quiz {quiz}: all right", _quiz(set(), flow.name, quiz)),
                Walk(flow.name, f"quiz {quiz}: the first wrong", _quiz({1}, flow.name, quiz), budgeted=False),
            ]
    return WALKS + tuple(written)


def count_all(app, languages=None) -> list[Count]:
    """Walk every ``walks_for`` entry on ``app`` (a throwaway one), in each language the
    content promises (``flows/lists.yaml``: Lao and English as shipped)."""
    from gateway.services import bind

    bind(runtime_of(app).services)  # the poll's question goes out through a real worker
    book, results = runtime_of(app).services.book, []
    languages = languages or runtime_of(app).services.catalog.promised
    _seed(app)
    for number, walk in enumerate(walks_for(book)):
        for lang_number, lang in enumerate(languages):
            phone = f"+856205556{number:02d}{lang_number}0"
            if walk.registered:
                _add_member(app, phone, lang)
            screens = _walk(app, phone, walk.intents(lang, book), lang)
            budget = book.flows[walk.flow].hop_budget
            results.append(Count(walk, lang, screens, None if budget is None else budget + walk.screens_before(book)))
    return results


def problems(counts: list[Count]) -> list[str]:
    """Budgets overrun, and Lao walks over 1.2 times their English twin."""
    found = []
    for count in counts:
        if count.walk.budgeted and count.budget is not None and count.hops > count.budget:
            found.append(f"{count.walk.name} [{count.language}]: {count.hops} screens, budget {count.budget}")
    english = {c.walk.name: c.hops for c in counts if c.language == "en"}
    for count in counts:
        if count.language == "lo" and count.walk.budgeted and count.walk.name in english:
            if count.hops > LAO_OVER_ENGLISH * english[count.walk.name]:
                found.append(
                    f"{count.walk.name}: Lao {count.hops} screens is more than "
                    f"{LAO_OVER_ENGLISH}× English ({english[count.walk.name]})"
                )
    return found


def table(counts: list[Count]) -> str:
    """The hop table as Markdown: one row per walk, Lao and English side by side."""
    rows = ["| flow | walk | budget | Lao | English | Lao ÷ English |", "| --- | --- | --- | --- | --- | --- |"]
    by_walk: dict[str, dict[str, Count]] = {}
    for count in counts:
        by_walk.setdefault(count.walk.name, {})[count.language] = count
    for name, pair in by_walk.items():
        lo, en = pair.get("lo"), pair.get("en")
        walk = (lo or en).walk
        budget = str((lo or en).budget) if walk.budgeted else f"({(lo or en).budget})"
        ratio = f"{lo.hops / en.hops:.2f}" if lo and en else ""
        rows.append(
            f"| {walk.flow} | {name} | {budget} | {lo.hops if lo else ''} | {en.hops if en else ''} | {ratio} |"
        )
    return "\n".join(rows)


def count_on_a_throwaway_instance(content: Path | None = None) -> list[Count]:
    """``count_all`` on its own SQLite file and embedded Redis, both gone afterwards;
    with ``content`` (a folder as ``outreach content export`` writes), on that
    content instead of the repository's."""
    from gateway import broker
    from gateway.logs import setup_logging

    with tempfile.TemporaryDirectory(prefix="outreach-hops-") as folder:
        app = throwaway_app(Path(folder), content)
        setup_logging(level="WARNING")
        try:
            return count_all(app)
        finally:
            runtime_of(app).redis.close()
            broker.stop_embedded()


def throwaway_app(folder: Path, content: Path | None = None):
    """A gateway on its own SQLite file and embedded Redis under ``folder``."""
    from gateway import create_app
    from gateway.config import load_config
    from gateway.store.database import Database

    settings = {
        "instance_path": folder,
        "database_url": "",
        "redis_url": "",
        "sms_provider": "console",
        "quiet_hours": "off",
    }
    if content is not None:  # its first published version is this content
        settings.update(
            flows_dir=content / "flows",
            prompts_dir=content / "prompts",
            quizzes_dir=content / "quizzes",
            surveys_dir=content / "surveys",
        )
    config = load_config(settings)
    Database(config.sqlalchemy_url).upgrade()  # before the app, which reads the deployment's secrets
    return create_app(config)


# ------------------------------------------------------------------ walking


def _walk(app, number: str, intents: list[Intent], lang: str) -> list[str]:
    from gateway.cli.simulate import Phone

    catalog = runtime_of(app).services.catalog
    phone = Phone(app.test_client(), number, "*384#", app.config["GATEWAY"].at_webhook_token)
    screens = [phone.dial()]
    for kind, value in intents:
        if screens[-1].startswith("END"):
            raise HopError(f"the session ended before {kind} {value!r}:\n{screens[-1]}")
        if kind in ("type", "press"):
            screens.append(phone.press(str(value)))
            continue
        wanted = [catalog.render(Text(key), lang) for key in value]
        if kind == "pick if listed":
            shown = dict(_options(screens[-1]))
            numbers = [_find(shown, label) for label in wanted]
            if all(numbers):
                screens.append(phone.press(" ".join(numbers)))
            continue
        seen: dict[str, str] = {}
        while True:
            seen.update(_options(screens[-1]))
            numbers = [_find(seen, label) for label in wanted]
            if all(numbers):
                break
            if f"\n{MORE} " not in screens[-1]:
                raise HopError(f"no option {wanted} on the screen:\n{screens[-1]}")
            screens.append(phone.press(MORE))
        screens.append(phone.press(" ".join(numbers)))
    if not screens[-1].startswith("END") and not _is_menu(screens[-1], catalog, lang):
        raise HopError(f"the walk stopped mid-flow:\n{screens[-1]}")
    return screens


def _options(screen: str) -> list[tuple[str, str]]:
    """(label, number) of each option on a USSD screen."""
    return [(match[2], match[1]) for line in screen[4:].splitlines() if (match := _OPTION.match(line))]


def _find(seen: dict[str, str], label: str) -> str | None:
    """The number of the option showing ``label`` (cut short with "…" on a narrow screen)."""
    for shown, number in seen.items():
        if shown == label or (shown.endswith(("…", "...")) and label.startswith(shown.rstrip(".…"))):
            return number
    return None


def _is_menu(screen: str, catalog, lang: str) -> bool:
    other = "en" if lang == "lo" else "lo"
    return any(f"1. {catalog.render(Text('main.next_session'), code)}" in screen for code in (lang, other))


def _add_member(app, phone: str, lang: str) -> None:
    from gateway.store import members
    from gateway.store.models import Member, utcnow

    with runtime_of(app).db.session() as db:
        member = Member(
            phone=phone, name="ນ້ອຍ" if lang == "lo" else "Noy", language=lang, province="bokeo", consent_at=utcnow()
        )
        db.add(member)
        members.set_topics(member, ["nutrition"])
    _send_open_poll(app)


def _seed(app) -> None:
    """A session on her topic in each language (so Next session finds one)."""
    from gateway.store import schedule
    from gateway.store.models import utcnow

    with runtime_of(app).db.session() as db:
        for lang, title in (("lo", "ໂພຊະນາການແມ່ ແລະ ເດັກ"), ("en", "Feeding mothers and babies")):
            schedule.add(
                db,
                {
                    "titles": {lang: title},
                    "kind": "hangout",
                    "topic": "nutrition",
                    "language": lang,
                    "starts_at": utcnow() + timedelta(days=7),
                    "duration_minutes": 60,
                    "capacity": None,
                    "place": None,
                    "join_link": "meet.jit.si/nutrition",
                    "dial_in": None,
                },
            )


def _send_open_poll(app) -> None:
    """One open poll, its question sent (through the console provider) to every member
    so far, so that "Polls" has exactly one to answer."""
    from rq import SimpleWorker
    from sqlalchemy import func, select

    from gateway.broker import QUEUES
    from gateway.messaging import bulk
    from gateway.messaging.audience import Audience
    from gateway.polls import poll as polls
    from gateway.store.models import Poll, utcnow

    now = utcnow()
    with runtime_of(app).db.session() as db:
        code = f"P{(db.scalar(select(func.count()).select_from(Poll)) or 0) + 1}"
        for old in db.scalars(select(Poll).where(Poll.closed_at.is_(None))):
            old.closed_at = now  # only the newest stays open
        poll = polls.create(
            db,
            code,
            {"lo": "ເດືອນໜ້າ ລົມເລື່ອງໃດ?", "en": "Next month's topic?"},
            [{"lo": "ໂພຊະນາການ", "en": "Nutrition"}, {"lo": "ນ້ຳສະອາດ", "en": "Clean water"}],
            Audience(),
            now - timedelta(minutes=1),
            now + timedelta(days=1),
        )
        broadcast_id = polls.start_broadcast(db, poll, runtime_of(app).services.catalog).id
    bulk.dispatch(runtime_of(app).services, broadcast_id)
    queues = [runtime_of(app).queues[name] for name in QUEUES]
    SimpleWorker(queues, connection=runtime_of(app).redis).work(burst=True, logging_level="WARNING")


# ------------------------------------------------------------------ command


@flows.command("hops")
@click.option(
    "--content",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Walk this content (a folder with flows/ and prompts/) instead of the repository's.",
)
@click.option("--quiet", is_flag=True, help="Print only the problems, one per line (for publish checks).")
def hops_command(content: Path | None, quiet: bool) -> None:
    """Walk every flow over USSD in Lao and English, as a member would (pressing 98
    until she sees what she wants), and print the screens each costs against its
    budget; exit 1 if any flow is over budget. Runs on a throwaway instance."""
    try:
        counts = count_on_a_throwaway_instance(content)
    except HopError as exc:
        click.echo(f"a walk could not go on: {' '.join(str(exc).split())}")
        raise SystemExit(1) from None
    if not quiet:
        click.echo(table(counts))
    found = problems(counts)
    for problem in found:
        click.secho(problem, fg="red")
    if found:
        raise SystemExit(1)
    if not quiet:
        click.secho("every flow within its budget", fg="green")
