"""``outreach flows check`` and ``outreach flows graph``."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import cli, fail


@cli.group()
def flows() -> None:
    """Check and draw the YAML menu flows."""


def _settings():
    from gateway.services import load_config

    return load_config()


@flows.command("check")
@click.option("--flows-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--prompts-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def check_command(flows_dir: Path | None, prompts_dir: Path | None) -> None:
    """Report every problem in the flows, with file and line; exit 1 if any."""
    from gateway.channels.actions import ACTIONS
    from gateway.channels.ussd.pages import PageLimits
    from gateway.content.flowcheck import check
    from gateway.content.prompts import Catalog

    config = _settings()
    catalog = Catalog.load(prompts_dir or config.prompts_dir, config.timezone)
    problems = check(flows_dir or config.flows_dir, catalog, ACTIONS.names(),
                     PageLimits(config.ussd_page_gsm7, config.ussd_page_ucs2))
    for problem in problems:
        click.secho(str(problem), fg="red" if problem.severity == "error" else "yellow")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        fail(f"{len(errors)} problem(s) in the flows")
    _voice_gaps(flows_dir or config.flows_dir, prompts_dir or config.prompts_dir, catalog)
    click.secho(f"flows OK ({', '.join(catalog.languages)})", fg="green")


def _voice_gaps(flows_dir: Path, prompts_dir: Path, catalog) -> None:
    """Warn (not fail) about recordings calls need: an unrecorded Lao screen is played in English."""
    from gateway.content.recordings import Recordings
    from gateway.content.flows import load_book
    from gateway.content.prompt_audit import audit

    result = audit(load_book(flows_dir), catalog,
                   Recordings(_settings().recordings_path(), Path(prompts_dir) / "audio"))
    for lang in catalog.languages:
        missing = [n for n in result.missing if n.language == lang]
        if missing:
            spoken = (" (read by text-to-speech meanwhile)" if lang == "en"
                      else " (calls play those screens in English meanwhile)")
            click.secho(f"voice: warning: {len(missing)} recording(s) missing in {lang}{spoken}; "
                        "see `outreach prompts audit`", fg="yellow")


@flows.command("graph")
@click.argument("name")
def graph_command(name: str) -> None:
    """Print flow NAME as a Mermaid diagram."""
    from gateway.content.flowgraph import mermaid
    from gateway.content.flows import load_book

    book = load_book(_settings().flows_dir)
    if name not in book.flows:
        fail(f"no flow named {name!r}; flows: {', '.join(sorted(book.flows))}")
    click.echo(mermaid(book, name))
