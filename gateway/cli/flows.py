"""``outreach flows check`` and ``outreach flows graph``."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import cli, fail


@cli.group()
def flows() -> None:
    """Check and draw the YAML menu flows."""


def _settings():
    from gateway.config import load_config

    return load_config()


@flows.command("check")
@click.option("--flows-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--prompts-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def check_command(flows_dir: Path | None, prompts_dir: Path | None) -> None:
    """Report every problem in the flows, with file and line; exit 1 if any. (The same
    checks publishing runs, but the hop walk: that is `outreach flows hops`.)"""
    from gateway.channels.actions import ACTIONS
    from gateway.channels.ussd.pages import PageLimits
    from gateway.content.edition import Edition, read_folders
    from gateway.content.review import review

    config = _settings()
    flows_dir, prompts_dir = flows_dir or config.flows_dir, prompts_dir or config.prompts_dir
    documents = read_folders(flows_dir, prompts_dir)
    problems = review(
        documents,
        ACTIONS.names(),
        config.timezone,
        PageLimits(config.ussd_page_gsm7, config.ussd_page_ucs2),
        hops=False,
    )
    for problem in problems:
        click.secho(
            _in_folders(str(problem), flows_dir, prompts_dir), fg="red" if problem.severity == "error" else "yellow"
        )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        fail(f"{len(errors)} problem(s) in the flows")
    edition = Edition.build(0, documents, config.timezone)
    _voice_gaps(edition, prompts_dir)
    click.secho(f"flows OK ({', '.join(edition.catalog.languages)})", fg="green")


def _in_folders(text: str, flows_dir: Path, prompts_dir: Path) -> str:
    """A problem's document name (``flows/main.yaml``) as the file's path."""
    for prefix, folder in (("flows/", flows_dir), ("prompts/", prompts_dir)):
        if text.startswith(prefix):
            return f"{Path(folder) / text[len(prefix) :]}"
    return text


def _voice_gaps(edition, prompts_dir: Path) -> None:
    """Warn (not fail) about recordings calls need: an unrecorded Lao screen is played in English."""
    from gateway.content.prompt_audit import audit
    from dataclasses import replace

    from gateway.cli.prompts import recordings_of

    catalog = edition.catalog
    result = audit(edition.book, catalog, recordings_of(replace(_settings(), prompts_dir=Path(prompts_dir))))
    for lang in catalog.languages:
        missing = [n for n in result.missing if n.language == lang]
        if missing:
            spoken = (
                " (read by text-to-speech meanwhile)"
                if lang == "en"
                else " (calls play those screens in English meanwhile)"
            )
            click.secho(
                f"voice: warning: {len(missing)} recording(s) missing in {lang}{spoken}; see `outreach prompts audit`",
                fg="yellow",
            )


@flows.command("graph")
@click.argument("name")
def graph_command(name: str) -> None:
    """Print flow NAME, as published, as a Mermaid diagram."""
    from gateway.cli import open_services
    from gateway.content.flowgraph import mermaid

    book = open_services().book
    if name not in book.flows:
        fail(f"no flow named {name!r}; flows: {', '.join(sorted(book.flows))}")
    click.echo(mermaid(book, name))
