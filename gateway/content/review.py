"""Every check a version must pass before it is published.

The same checks run for ``outreach content import --publish``, for the dashboard's
Publish button and for ``outreach flows check``: names and sizes, YAML, the flow
check (targets, prompts in every language, page fit with long sample values,
options on page 1), the glossary's ruled-out Lao words, and the hop walk: every
flow walked over USSD in every language, through the real webhook, against its
budget. So the live version never fails a check.
"""

from __future__ import annotations

import re
import subprocess  # nosec B404: runs this same program, with fixed arguments
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from gateway.channels.ussd.pages import PageLimits
from gateway.content import glossary
from gateway.content.edition import Edition, shape_problems, write_folder
from gateway.content.flowcheck import check
from gateway.content.flows import Problem, parse_yaml
from gateway.errors import ContentError

# The hop walk starts a throwaway gateway (its own SQLite file and embedded Redis):
# in its own process, so nothing of it touches the one publishing. It takes about
# 3 s; more than this means it hangs.
HOPS_TIMEOUT_S = 120


def review(
    documents: Mapping[str, str],
    action_names: Iterable[str],
    timezone: str,
    limits: PageLimits = PageLimits(),
    hops: bool = True,
) -> list[Problem]:
    """Every problem in ``documents``; publishable when none is an error."""
    problems = shape_problems(documents)
    if problems:
        return problems
    try:
        edition = Edition.build(0, documents, timezone)
    except ContentError as exc:
        return exc.problems
    problems = check(edition.book, edition.catalog, action_names, limits)
    problems = [_with_prompt_line(p, documents, edition) for p in problems]
    problems += glossary_problems(documents, edition)
    problems += broadcast_text_problems(documents, edition)
    if hops and not errors(problems):
        problems += hop_problems(documents)
    return problems


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def glossary_problems(documents: Mapping[str, str], edition: Edition) -> list[Problem]:
    if glossary.LANGUAGE not in edition.catalog.texts:
        return []
    problems = []
    for key, found in glossary.catalog_flags(edition.catalog.texts[glossary.LANGUAGE]).items():
        for avoided in found:
            problems.append(
                Problem.said(
                    _text_location(documents, glossary.LANGUAGE, key, avoided.word),
                    "prompt '%(key)s' uses '%(word)s'; the glossary says '%(instead)s'",
                    key=key,
                    word=avoided.word,
                    instead=avoided.instead,
                )
            )
    return problems


# Texts the gateway sends as broadcasts of its own (to every member of a session or a
# poll's audience), where a member with no name would get a blank: the outbox
# refuses a blank, so such a text would fail in the worker after it was due.
BROADCAST_KEYS = ("reminder.text", "quiz.invite", "survey.invite", "poll.sms")
_NAME = re.compile(r"\{name[}:!]")


def broadcast_text_problems(documents: Mapping[str, str], edition: Edition) -> list[Problem]:
    problems = []
    for lang, texts in edition.catalog.texts.items():
        for key in BROADCAST_KEYS:
            if _NAME.search(texts.get(key) or ""):
                problems.append(
                    Problem.said(
                        f"prompts/{lang}.yaml:{key_line(documents, lang, key)}",
                        "prompt '%(key)s' uses {name}, but it goes to members who may have no name: take {name} out",
                        key=key,
                    )
                )
    return problems


def _text_location(documents: Mapping[str, str], lang: str, key: str, word: str) -> str:
    """Where text ``key`` is written: its catalog's line, or its quiz document's."""
    if key.startswith("quizzes."):
        name = f"quizzes/{key.split('.')[1]}.yaml"
        lines = documents.get(name, "").splitlines()
        return f"{name}:{next((n for n, text in enumerate(lines, start=1) if word in text), 1)}"
    return f"prompts/{lang}.yaml:{key_line(documents, lang, key)}"


def key_line(documents: Mapping[str, str], lang: str, key: str) -> int:
    """The line of prompt ``key`` in ``prompts/<lang>.yaml`` (1 when it cannot be found)."""
    try:
        node = parse_yaml(documents.get(f"prompts/{lang}.yaml", "")) or {}
    except yaml.YAMLError:
        return 1
    line = 1
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return line
        line = getattr(node, "key_lines", {}).get(part, line)
        node = node[part]
    return line


_SCREEN = re.compile(r"^\[(\w+)\] (\w+):(\w+):")


def _with_prompt_line(problem: Problem, documents: Mapping[str, str], edition: Edition) -> Problem:
    """A screen that does not fit names its flow's line; add the prompt's own line,
    which is what she will change."""
    match = _SCREEN.match(problem.message)
    if not match or match[2] not in edition.book.flows:
        return problem
    lang, flow, node_id = match.groups()
    node = edition.book.flows[flow].nodes.get(node_id)
    keys = list(node.prompt_keys())[:1] if node is not None else []
    if not keys:
        return problem
    if edition.book.flows[flow].file.startswith("quizzes/"):  # its words are in the quiz's own document
        return Problem(
            problem.location, problem.message, problem.severity, problem.template, {**problem.values, "key": keys[0]}
        )
    where = f"prompts/{lang}.yaml:{key_line(documents, lang, keys[0])}"
    first, _, screen = problem.message.partition("\n")
    message = f"{first} (prompt {keys[0]}; the flow is at {problem.location})" + (f"\n{screen}" if screen else "")
    return Problem(where, message, problem.severity, problem.template, {**problem.values, "key": keys[0]})


def hop_problems(documents: Mapping[str, str]) -> list[Problem]:
    """Walk every flow of ``documents`` (``outreach flows hops --content``)."""
    with tempfile.TemporaryDirectory(prefix="outreach-review-") as folder:
        write_folder(documents, folder)
        try:
            done = subprocess.run(  # nosec B603: our own interpreter and module, no shell
                [sys.executable, "-m", "gateway.cli.main", "flows", "hops", "--content", folder, "--quiet"],
                capture_output=True,
                text=True,
                timeout=HOPS_TIMEOUT_S,
                cwd=Path(folder),
            )
        except subprocess.TimeoutExpired:
            return [Problem("hops", f"the hop walk took over {HOPS_TIMEOUT_S} s")]
    if done.returncode == 0:
        return []
    found = [line for line in done.stdout.splitlines() if line.strip()]
    if not found:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        found = [f"the hop walk failed: {tail}"]
    return [Problem("hops", line) for line in found]
