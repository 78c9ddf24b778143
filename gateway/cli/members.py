"""``outreach members import FILE.csv`` and ``outreach members export``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from ..errors import ImportRowError
from . import cli, fail, open_app


@cli.group()
def members() -> None:
    """Import and export members."""


def vocabulary(app):
    from ..vocabulary import Vocabulary

    return Vocabulary.build(app.extensions["book"], app.extensions["catalog"])


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Add or update members from FILE.csv.

    Columns: phone,name,organisation,province,language,topics (topics separated by
    ';'), and optionally consent (yes or a date) if you collected it. Members are
    matched by phone, so importing again updates instead of duplicating. Bad rows
    are listed with their line; the good rows are imported.
    """
    from ..csvfile import read_rows
    from ..store import members as store

    app = open_app()
    config = app.config["GATEWAY"]
    try:
        with app.extensions["db"].session() as db:
            report = store.import_rows(db, read_rows(file, ("phone",), store.CSV_COLUMNS),
                                       vocabulary(app), config.default_language)
    except ImportRowError as exc:
        fail(f"{file}: {exc}; nothing was imported")
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{file}: cannot read it as a UTF-8 CSV file ({exc}); nothing was imported")
    for problem in report.rejected:
        click.secho(f"{file}:{problem.line}: {problem.reason}", fg="yellow", err=True)
    click.echo(f"{report.created} created, {report.updated} updated, "
               f"{len(report.rejected)} rejected")
    if report.rejected:
        fail(f"{len(report.rejected)} row(s) were not imported; fix them and import again")


@members.command("export")
def export_command() -> None:
    """Write every member as CSV to standard output."""
    from ..store import members as store

    app = open_app()
    writer = None
    with app.extensions["db"].session() as db:
        for row in store.export_rows(db):
            if writer is None:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
    if writer is None:
        csv.writer(sys.stdout).writerow(list(store.CSV_COLUMNS) + ["consent_at", "opted_out_at"])
