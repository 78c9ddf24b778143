"""``outreach prompts audit``: recordings voice calls need, and a script to record them."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import actor, cli, fail, open_services


@cli.group()
def prompts() -> None:
    """Prompt texts and their recordings for voice calls."""


@prompts.command("audit")
@click.option(
    "--script",
    "script",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the recording script (CSV: key, language, text, where used) to FILE.",
)
@click.option("--all", "everything", is_flag=True, help="List every recording calls use, not only missing ones.")
def audit_command(script: Path | None, everything: bool) -> None:
    """List every prompt a call can play that has no recording, per language."""
    from gateway.content.flows import load_book
    from gateway.content.prompt_audit import audit, write_script
    from gateway.content.prompts import Catalog
    from gateway.config import load_config

    config = load_config()
    catalog = Catalog.load(config.prompts_dir, config.timezone)
    result = audit(load_book(config.flows_dir), catalog, recordings_of(config))
    shown = result.needed if everything else result.missing
    for lang in sorted(catalog.languages, key=lambda code: code != config.default_language):
        rows = [n for n in shown if n.language == lang]
        total = sum(1 for n in result.needed if n.language == lang)
        missing = sum(1 for n in result.missing if n.language == lang)
        click.secho(f"{lang}: {total - missing} of {total} recordings present, {missing} missing", bold=True)
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


def _known_keys(services) -> dict[tuple[str, str], str]:
    """(lang, key) -> current text, for every recording a call can play: the flows'
    prompts, and the live texts of every session and poll."""
    from sqlalchemy import select

    from gateway.content.prompt_audit import audit
    from gateway.content.recordings import Recordings
    from gateway.store import live_texts
    from gateway.store.models import Poll, TrainingSession

    catalog = services.catalog
    result = audit(services.book, catalog, Recordings(None))  # every prompt, recorded or not
    known = {(n.language, n.key): n.text for n in result.needed}
    with services.db.session() as db:
        texts = [t for row in db.scalars(select(TrainingSession)) for t in live_texts.for_session(row)]
        texts += [t for row in db.scalars(select(Poll)) for t in live_texts.for_poll(row)]
    for text in texts:
        for lang in catalog.languages:
            known[(lang, text.key)] = text.texts.get(lang) or next(iter(text.texts.values()), "")
    return known


# A zip says how large its files are, and may lie: the sizes it states are checked
# first, and each file is unpacked (one at a time) only up to RECORDING_BYTES, so a
# small archive that unpacks to gigabytes never takes more memory than one recording.
ZIP_ENTRIES = 5000
ZIP_UNPACKED = 1024 * 2**20
RECORDING_BYTES = 20 * 2**20


def _unpacked(archive, info) -> bytes:
    from gateway.errors import InputProblem

    with archive.open(info) as member:
        data = member.read(RECORDING_BYTES + 1)
    if len(data) > RECORDING_BYTES:
        raise InputProblem("larger than 20 MB unpacked")
    return data


@prompts.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
def import_command(source: Path) -> None:
    """Import recordings from a folder or a .zip of <lang>/<key>.<wav|mp3> (as
    `outreach prompts export` writes them). Each is converted for calls; a file that
    is not usable (not audio, empty, only silence, over 60 s, an unknown key) is
    listed with its name and the reason, and the good ones are imported."""
    import zipfile

    from gateway.content.audio import convert
    from gateway.content.recordings import EXTENSIONS, Recordings
    from gateway.errors import InputProblem

    services = open_services()
    config = services.config
    known = _known_keys(services)
    library = Recordings(services.db, config.prompts_dir / "audio")
    if source.is_dir():
        files = [
            (str(p.relative_to(source)), p.read_bytes)
            for p in sorted(source.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() != ".json"
        ]
    elif zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        entries = [info for info in archive.infolist() if not info.is_dir() and not info.filename.endswith(".json")]
        if len(entries) > ZIP_ENTRIES:
            fail(
                f"{source}: {len(entries):,} files; a recordings archive holds at most {ZIP_ENTRIES:,}. "
                "Nothing was imported"
            )
        if sum(info.file_size for info in entries) > ZIP_UNPACKED:
            fail(f"{source}: unpacks to more than {ZIP_UNPACKED // 2**20:,} MB. Nothing was imported")
        files = [(info.filename, (lambda info=info: _unpacked(archive, info))) for info in entries]
    else:
        fail(f"{source} is neither a folder nor a .zip file")
    imported, refused = 0, []
    for name, read in files:
        parts = Path(name).parts
        if len(parts) < 2 or Path(name).suffix.lower() not in EXTENSIONS:
            refused.append((name, "not <lang>/<key>.wav or .mp3"))
            continue
        lang, key = parts[-2], Path(parts[-1]).stem
        if (lang, key) not in known:
            refused.append((name, f"no prompt {key!r} in {lang!r} (see `outreach prompts audit --all`)"))
            continue
        try:
            clip = convert(read())
        except InputProblem as problem:
            refused.append((name, str(problem)))
            continue
        library.save(lang, key, clip.wav, text=known[(lang, key)], by=actor(), source="import", seconds=clip.seconds)
        imported += 1
    for name, reason in refused:
        click.secho(f"{name}: {reason}", fg="yellow", err=True)
    click.echo(f"{imported} recording(s) imported, {len(refused)} refused")
    if refused:
        fail(f"{len(refused)} file(s) were not imported; fix them and import again")


@prompts.command("export")
@click.option(
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("recordings.zip"),
    show_default=True,
    help="The .zip file to write.",
)
def export_command(output: Path) -> None:
    """Write every recording (the organisers' own, and the shipped ones they have not
    replaced) to a .zip of <lang>/<key>.<wav|mp3>, for another install's `prompts import`."""
    import zipfile

    from gateway.content.recordings import Recordings

    if not output.parent.is_dir():
        fail(f"--output: folder {output.parent} does not exist")
    services = open_services()
    count = 0
    partial = output.with_name(output.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for found in Recordings(services.db, services.config.prompts_dir / "audio").all():
            archive.writestr(f"{found.lang}/{found.name}", found.read())
            count += 1
    partial.replace(output)  # whole or not at all
    click.echo(f"{count} recording(s) written to {output}")


def recordings_of(config):
    """The recordings an install has, for a command that reads them: the database's
    and the shipped ones; the shipped ones alone where the database is not set up
    (checking content files on a machine with no gateway installed)."""
    from sqlalchemy import inspect

    from gateway.content.recordings import Recordings
    from gateway.store.database import Database

    database = Database(config.sqlalchemy_url)
    try:
        installed = inspect(database.engine).has_table("recordings")
    except Exception:  # no database server to ask: the files alone
        installed = False
    return Recordings(database if installed else None, Path(config.prompts_dir) / "audio")
