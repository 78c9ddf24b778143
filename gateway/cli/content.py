"""``outreach content export|import|history|diff|publish|revert|discard``: what
members read and hear, as versions in the database (``docs/content.md``).

Every version is a folder of YAML files when exported: ``flows/*.yaml`` and
``prompts/<language>.yaml``, the same shape as the repository's. An import is
checked as a publish is; nothing is written when a check fails.
"""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import actor, cli, fail, open_services


@cli.group()
def content() -> None:
    """Versions of the flows and prompts: export, import, history, publish, revert."""


def _desk(services, walk_hops: bool = True):
    from gateway.content.publication import Desk

    return Desk.of(services, walk_hops)


def _say_problems(problems, folder: str | None = None) -> None:
    from gateway.content.publication import located

    for problem in located(problems, folder) if folder else problems:
        click.secho(str(problem), fg="red" if problem.severity == "error" else "yellow", err=True)


@content.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--version", "number", type=int, default=None, help="A version other than the published one.")
def export_command(folder: Path, number: int | None) -> None:
    """Write the published version (or --version N) into FOLDER as files."""
    from gateway.content.edition import write_folder
    from gateway.store import content as versions

    services = open_services()
    services.library.prepare()
    with services.db.session() as db:
        number = number if number is not None else versions.published_number(db)
        docs = versions.documents(db, number) if number is not None else {}
    if not docs:
        fail(f"no version {number} (see `outreach content history`)")
    written = write_folder(docs, folder)
    click.echo(f"version {number}: {len(written)} files written to {folder}")


@content.command("import")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--publish", "go_live", is_flag=True, help="Publish it once every check passes.")
@click.option("--note", default=None, help="What changed, for the history.")
@click.option("--no-hops", is_flag=True, help="Skip the hop walk (a draft is walked when it is published).")
def import_command(folder: Path, go_live: bool, note: str | None, no_hops: bool) -> None:
    """Check FOLDER (flows/ and prompts/) and save it as a draft, or --publish it.
    Problems are listed as file:line; when any is an error, nothing is saved."""
    from gateway.content import publication
    from gateway.content.edition import read_folder
    from gateway.content.review import errors

    try:
        docs = read_folder(folder)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{folder}: cannot be read ({exc}); nothing was imported")
    services = open_services()
    services.library.prepare()
    desk = _desk(services, walk_hops=go_live or not no_hops)
    if go_live:
        outcome = publication.publish_documents(desk, docs, "import", actor(), note)
        _say_problems(outcome.problems, str(folder))
        if not outcome.published:
            fail(f"{len(errors(outcome.problems))} problem(s); nothing was imported or published")
        click.secho(f"version {outcome.number} published; every process uses it within a few seconds", fg="green")
        return
    problems = desk.review(docs)
    _say_problems(problems, str(folder))
    if errors(problems):
        fail(f"{len(errors(problems))} problem(s); nothing was imported")
    number = publication.draft(desk, docs, "import", actor(), note)
    click.echo(f"draft version {number} saved; `outreach content publish {number}` makes it live")


@content.command("languages")
def languages_command() -> None:
    """Each language of the published content: its name, how many of the texts the
    flows show it has, whether members can choose it, and its fallback."""
    from gateway.content import languages

    services = open_services()
    services.library.prepare()
    edition = services.library.current()
    on_menu = set(edition.book.lists[languages.LIST].items)
    for lang in languages.described(edition.book, edition.catalog):
        menu = "on the language menu" if lang.code in on_menu else "not on the menu yet (texts missing)"
        falls = f"falls back to {lang.fallback}" if lang.fallback else "the last fallback"
        click.echo(
            f"{lang.code:<4} {lang.name:<16} {lang.covered} of {lang.total} texts  {menu}; {falls}; "
            f"digits {lang.digits or '0123456789'}"
        )


@content.command("history")
@click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True)
def history_command(limit: int) -> None:
    """Versions, newest first: number, state, when, who, and what."""
    from gateway.store import content as versions

    services = open_services()
    services.library.prepare()
    with services.db.session() as db:
        rows = versions.history(db, limit)
    for row in rows:
        when = (row.published_at or row.created_at).strftime("%Y-%m-%d %H:%M UTC")
        mark = "*" if row.status == versions.PUBLISHED else " "
        click.echo(
            f"{mark} {row.id:>4}  {row.status:<9}  {when}  {row.author}  "
            f"{row.source}{': ' + row.note if row.note else ''}"
        )


@content.command("diff")
@click.argument("old", type=int)
@click.argument("new", type=int, required=False)
def diff_command(old: int, new: int | None) -> None:
    """What changed between version OLD and NEW (default: from the published one to OLD)."""
    from gateway.content.publication import diff
    from gateway.store import content as versions

    services = open_services()
    services.library.prepare()
    with services.db.session() as db:
        if new is None:
            old, new = versions.published_number(db), old
        first, second = versions.documents(db, old), versions.documents(db, new)
    for number, docs in ((old, first), (new, second)):
        if not docs:
            fail(f"no version {number} (see `outreach content history`)")
    click.echo(diff(first, second, f"v{old}", f"v{new}") or "no difference")


@content.command("publish")
@click.argument("number", type=int)
def publish_command(number: int) -> None:
    """Check draft NUMBER and publish it."""
    from gateway.content import publication

    services = open_services()
    services.library.prepare()
    outcome = publication.publish(_desk(services), number, actor())
    _say_problems(outcome.problems)
    if not outcome.published:
        fail(f"version {number} was not published")
    click.secho(f"version {number} published", fg="green")


@content.command("revert")
@click.argument("number", type=int)
def revert_command(number: int) -> None:
    """Publish again what version NUMBER held (as a new version, checked again)."""
    from gateway.content import publication

    services = open_services()
    services.library.prepare()
    outcome = publication.revert(_desk(services), number, actor())
    _say_problems(outcome.problems)
    if not outcome.published:
        fail(f"not reverted to version {number}")
    click.secho(f"version {outcome.number} published: what version {number} held", fg="green")


@content.command("discard")
@click.argument("number", type=int)
def discard_command(number: int) -> None:
    """Delete draft NUMBER (published and past versions are history, and stay)."""
    from gateway.store import audit
    from gateway.store import content as versions

    services = open_services()
    with services.db.session() as db:
        if not versions.discard(db, number):
            fail(f"version {number} is not a draft")
        audit.record(db, actor(), "content.discard", f"content {number}")
    click.echo(f"draft {number} discarded")
