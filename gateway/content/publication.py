"""Drafting, publishing and reverting versions of the content: the one way a
version goes live, shared by ``outreach content`` and the dashboard.

Publishing reviews the version first (``content.review``: every check, the hop
walk included) and refuses it with the problems; only then, in one transaction,
does it become the published version, with an audit entry. The new number is
announced once that has committed, and every process moves to it within a
second or two (``content.library``). A revert publishes a copy of an earlier
version, checked again, so history only ever grows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from gateway.channels.ussd.pages import PageLimits
from gateway.content.edition import shape_problems
from gateway.content.flows import Problem
from gateway.content.library import Library
from gateway.content.review import errors, review
from gateway.errors import ContentError
from gateway.store import audit
from gateway.store import content as versions
from gateway.store.database import Database


@dataclass
class Outcome:
    """What a publish did: the version now published, or why nothing changed."""

    number: int | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def published(self) -> bool:
        return self.number is not None and not errors(self.problems)


@dataclass(frozen=True)
class Desk:
    """What publishing needs to know about this install."""

    db: Database
    library: Library
    action_names: tuple[str, ...]
    timezone: str
    limits: PageLimits = PageLimits()
    walk_hops: bool = True

    @classmethod
    def of(cls, services, walk_hops: bool = True) -> "Desk":
        from gateway.channels.actions import ACTIONS

        config = services.config
        return cls(
            services.db,
            services.library,
            tuple(ACTIONS.names()),
            config.timezone,
            PageLimits(config.ussd_page_gsm7, config.ussd_page_ucs2),
            walk_hops,
        )

    def review(self, documents: Mapping[str, str]) -> list[Problem]:
        return review(documents, self.action_names, self.timezone, self.limits, self.walk_hops)


def draft(desk: Desk, documents: Mapping[str, str], source: str, author: str, note: str | None = None) -> int:
    """Save ``documents`` as a draft (names and sizes checked; the rest at publish)."""
    problems = shape_problems(documents)
    if problems:
        raise ContentError(problems)
    with desk.db.session() as db:
        row = versions.add(db, dict(documents), source, author, note, based_on=versions.published_number(db))
        audit.record(db, author, "content.draft", f"content {row.id}", note or source)
        return row.id


def publish(desk: Desk, number: int, author: str) -> Outcome:
    """Review draft ``number`` and, when nothing is wrong, publish it."""
    with desk.db.session() as db:
        row = versions.get(db, number)
        if row is None or row.status != versions.DRAFT:
            return Outcome(
                None,
                [
                    Problem(
                        f"version {number}",
                        "not a draft: only a draft can be published (to go back to a past version, revert to it)",
                    )
                ],
            )
        documents = versions.documents(db, number)
        stale = _stale(db, row)
    if stale:
        return Outcome(None, [stale])
    problems = desk.review(documents)
    if errors(problems):
        return Outcome(None, problems)
    stale = _go_live(desk, number, author)  # checked again: the review took seconds
    return Outcome(None, [stale]) if stale else Outcome(number, problems)


def _stale(db, row) -> Problem | None:
    """Why draft ``row`` may not be published: made from a version that is no longer the
    published one, it would silently undo what was published since (the release's
    offered content excepted: its diff from the published one is what she takes)."""
    published = versions.published_number(db)
    if row.source == "shipped" or row.based_on is None or row.based_on == published:
        return None
    return Problem.said(
        f"version {row.id}",
        "version %(number)s was made from version %(base)s, but version "
        "%(published)s has been published since; make it again from the published version",
        number=row.id,
        base=row.based_on,
        published=published,
    )


def publish_documents(
    desk: Desk, documents: Mapping[str, str], source: str, author: str, note: str | None = None
) -> Outcome:
    """Review ``documents``; when nothing is wrong, save and publish them as a new version."""
    problems = desk.review(documents)
    if errors(problems):
        return Outcome(None, problems)
    number = draft(desk, documents, source, author, note)
    stale = _go_live(desk, number, author)
    return Outcome(None, [stale]) if stale else Outcome(number, problems)


def _go_live(desk: Desk, number: int, author: str) -> Problem | None:
    with desk.db.session() as db:
        stale = _stale(db, versions.get(db, number))
        if stale:
            return stale
        before = versions.published_number(db)
        versions.publish(db, number)
        audit.record(
            db,
            author,
            "content.publish",
            f"content {number}",
            f"replaces version {before}" if before else "the first version",
        )
    desk.library.announce(number)
    return None


def revert(desk: Desk, number: int, author: str) -> Outcome:
    """Publish a copy of version ``number`` (checked again: the checks may have grown)."""
    with desk.db.session() as db:
        row = versions.get(db, number)
        if row is None:
            return Outcome(None, [Problem(f"version {number}", "no such version (see `outreach content history`)")])
        if row.status == versions.PUBLISHED:
            return Outcome(None, [Problem(f"version {number}", "is the published version already")])
        documents = versions.documents(db, number)
    outcome = publish_documents(desk, documents, "revert", author, f"what version {number} held")
    if outcome.published:
        with desk.db.session() as db:
            audit.record(db, author, "content.revert", f"content {outcome.number}", f"a copy of version {number}")
    return outcome


def diff(old: Mapping[str, str], new: Mapping[str, str], old_name: str = "a", new_name: str = "b") -> str:
    """A unified diff of two versions' documents, document by document."""
    chunks: list[str] = []
    for name in sorted(set(old) | set(new)):
        chunks.extend(
            difflib.unified_diff(
                old.get(name, "").splitlines(keepends=True),
                new.get(name, "").splitlines(keepends=True),
                f"{old_name}/{name}",
                f"{new_name}/{name}",
            )
        )
    return "".join(chunks)


def located(problems: Iterable[Problem], folder: str) -> list[Problem]:
    """``problems`` with their document names as paths under ``folder`` (for an import)."""
    out = []
    for problem in problems:
        where = problem.location
        if where.startswith(("flows/", "prompts/")):
            where = f"{folder.rstrip('/')}/{where}"
        out.append(Problem(where, problem.message, problem.severity))
    return out
