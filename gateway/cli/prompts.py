"""``outreach prompts audit``: recordings voice calls need, and a script to record them."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import cli, fail


@cli.group()
def prompts() -> None:
    """Prompt texts and their recordings for voice calls."""


@prompts.command("audit")
@click.option("--script", "script", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the recording script (CSV: key, language, text, where used) to FILE.")
@click.option("--all", "everything", is_flag=True, help="List every recording calls use, not only missing ones.")
def audit_command(script: Path | None, everything: bool) -> None:
    """List every prompt a call can play that has no recording, per language."""
    from gateway.channels.voice.service import AudioLibrary
    from gateway.content.flows import load_book
    from gateway.content.prompt_audit import audit, write_script
    from gateway.content.prompts import Catalog
    from gateway.services import load_config

    config = load_config()
    catalog = Catalog.load(config.prompts_dir, config.timezone)
    library = AudioLibrary(Path(config.prompts_dir) / "audio")
    result = audit(load_book(config.flows_dir), catalog, library)
    shown = result.needed if everything else result.missing
    for lang in sorted(catalog.languages, key=lambda code: code != config.default_language):
        rows = [n for n in shown if n.language == lang]
        total = sum(1 for n in result.needed if n.language == lang)
        missing = sum(1 for n in result.missing if n.language == lang)
        click.secho(f"{lang}: {total - missing} of {total} recordings present, {missing} missing",
                    bold=True)
        for row in rows[:400]:
            click.echo(f"  {row.key:<34} {row.text[:60]!r}  ({', '.join(sorted(row.where))[:50]})")
    if result.spoken_live:
        click.echo("\nFilled in at run time, so read by text-to-speech in English and silent in Lao:")
        for key, name, where in result.spoken_live:
            click.echo(f"  {{{name}}} in {key} ({where})")
    if script is not None:
        if not script.parent.is_dir():
            fail(f"--script: folder {script.parent} does not exist")
        count = write_script(result, script, only_missing=not everything)
        click.echo(f"\nrecording script with {count} line(s) written to {script}")
