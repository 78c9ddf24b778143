"""An edition: one version of the content as the engine runs it.

A version is a set of YAML documents named as the repository's files are:
``flows/<flow>.yaml`` (with ``flows/lists.yaml``), ``prompts/<lang>.yaml``, and
``quizzes/<name>.yaml`` and ``surveys/<name>.yaml`` (each a quiz or a survey an
organiser wrote: ``content.quiz``, ``content.survey``). The
same names are used on disk by ``outreach content export`` and ``import``, so a
version and a folder are two spellings of one thing, and ``flows check``, the
goldens and the hop walker read either.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gateway.content import languages, quiz, survey
from gateway.content.flows import Problem, load_book
from gateway.content.prompts import Catalog
from gateway.engine.model import FlowBook
from gateway.errors import ContentError, GatewayError

FOLDERS = ("flows", "prompts")
# What one organiser could plausibly write, with room: the shipped Lao catalog is
# 20 KB. The limits keep a pasted novel or a hostile upload out of every process's
# memory (each process holds the published version, and a session's own).
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_DOCUMENTS = 200
_NAME = re.compile(r"^(flows|prompts|quizzes|surveys)/[a-z][a-z0-9_-]{0,40}\.yaml$")


@dataclass(frozen=True)
class Edition:
    """Version ``number``'s documents, and the flow book and catalog built from them."""

    number: int
    documents: Mapping[str, str]
    book: FlowBook
    catalog: Catalog

    @classmethod
    def build(cls, number: int, documents: Mapping[str, str], timezone: str) -> "Edition":
        """Raises ``ContentError`` when the documents cannot be loaded at all (the
        full checks, pages and hops, are ``content.review``'s)."""
        problems = shape_problems(documents)
        if problems:
            raise ContentError(problems)
        book = load_book(in_folder(documents, "flows"), problems)
        try:
            catalog = Catalog.from_texts(in_folder(documents, "prompts"), timezone)
        except GatewayError as exc:
            problems.append(Problem("prompts", str(exc)))
        quizzes = [
            found
            for name, body in sorted(in_folder(documents, "quizzes").items())
            if (found := quiz.read(name, body, problems)) is not None
        ]
        surveys = [
            found
            for name, body in sorted(in_folder(documents, "surveys").items())
            if (found := survey.read(name, body, problems)) is not None
        ]
        if not problems:
            languages.promise(book, catalog)
            problems += languages.problems(catalog)
        for written in [*quizzes, *surveys] if not problems else ():  # every text in every promised language
            problems += written.written.missing_words(list(catalog.promised))
        if problems:
            raise ContentError(problems)
        for written in [*quizzes, *surveys]:
            if written.flow.name in book.flows:
                raise ContentError([Problem(written.flow.file, f"a flow named {written.flow.name} exists already")])
            book.flows[written.flow.name] = written.flow
            for lang, texts in written.texts.items():
                if lang in catalog.texts:
                    catalog.texts[lang].update(texts)
        book.flows[quiz.MENU_FLOW] = quiz.menu_flow(quizzes, quiz.SHIPPED[0] in book.flows, timezone)
        book.flows[survey.MENU_FLOW] = survey.menu_flow(surveys, timezone)
        languages.offer(book, catalog)
        return cls(number, dict(documents), book, catalog)


def in_folder(documents: Mapping[str, str], folder: str) -> dict[str, str]:
    return {name: body for name, body in documents.items() if name.startswith(folder + "/")}


def shape_problems(documents: Mapping[str, str]) -> list[Problem]:
    """Names and sizes: what is refused before any YAML is read."""
    problems = []
    if len(documents) > MAX_DOCUMENTS:
        problems.append(Problem("content", f"{len(documents)} documents; at most {MAX_DOCUMENTS}"))
    for name, body in documents.items():
        if not _NAME.match(name):
            problems.append(
                Problem(
                    name,
                    "not a content document name (flows/<name>.yaml, "
                    "prompts/<language>.yaml, quizzes/<name>.yaml or surveys/<name>.yaml: "
                    "lower-case "
                    "letters, digits, - and _)",
                )
            )
        elif len(body.encode("utf-8")) > MAX_DOCUMENT_BYTES:
            problems.append(
                Problem(
                    f"{name}:1",
                    f"{len(body.encode('utf-8')) // 1024} KB; "
                    f"a document may be at most {MAX_DOCUMENT_BYTES // 1024} KB",
                )
            )
    if not in_folder(documents, "flows"):
        problems.append(Problem("flows", "no flows"))
    return problems


def read_folder(root: Path | str) -> dict[str, str]:
    """The documents under ``root``: ``root/flows/*.yaml`` and ``root/prompts/*.yaml``."""
    return read_folders(Path(root) / "flows", Path(root) / "prompts", Path(root) / "quizzes", Path(root) / "surveys")


def read_folders(
    flows_dir: Path | str,
    prompts_dir: Path | str,
    quizzes_dir: Path | str | None = None,
    surveys_dir: Path | str | None = None,
) -> dict[str, str]:
    """The documents of a flows folder and a prompts folder (the repository's own:
    what a new install publishes first), and of quizzes and surveys folders if given."""
    documents = {}
    folders = [("flows", Path(flows_dir)), ("prompts", Path(prompts_dir))]
    for folder, path in (("quizzes", quizzes_dir), ("surveys", surveys_dir)):
        if path is not None:
            folders.append((folder, Path(path)))
    for folder, path in folders:
        for file in sorted(path.glob("*.yaml")):
            documents[f"{folder}/{file.name}"] = file.read_text(encoding="utf-8")
    return documents


def write_folder(documents: Mapping[str, str], root: Path | str) -> list[Path]:
    """Write ``documents`` under ``root`` as files; returns what was written."""
    written = []
    for name, body in sorted(documents.items()):
        if not _NAME.match(name):  # never a path out of root, whatever the database holds
            raise ContentError([Problem(name, "not a content document name")])
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        written.append(path)
    return written


def digest(documents: Mapping[str, str]) -> str:
    """One hash of every document's name and text: the same content, the same digest."""
    return hashlib.sha256(json.dumps(dict(sorted(documents.items())), ensure_ascii=False).encode("utf-8")).hexdigest()
