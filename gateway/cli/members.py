"""``outreach members import FILE.csv`` and ``outreach members export``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from gateway.cli import cli, open_services, run_import


@cli.group()
def members() -> None:
    """Import and export members."""


def vocabulary(services):
    from gateway.content.vocabulary import Vocabulary

    return Vocabulary.build(services.book, services.catalog)


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Add or update members from FILE.csv.

    Columns: phone,name,organisation,province,language,topics (topics separated by
    ';'), and optionally consent (yes or a date) if you collected it. Members are
    matched by phone, so importing again updates instead of duplicating. Bad rows
    are listed with their line; the good rows are imported.
    """
    from gateway.store import members as store
    from gateway.store.csvfile import read_rows

    services = open_services()
    config = services.config

    def do_import():
        with services.db.session() as db:
            return store.import_rows(db, read_rows(file, ("phone",), store.CSV_COLUMNS),
                                     vocabulary(services), config.default_language)

    run_import(file, do_import, lambda report: f"{report.created} created, "
               f"{report.updated} updated, {len(report.rejected)} rejected")


@members.command("export")
def export_command() -> None:
    """Write every member as CSV to standard output."""
    from gateway.store import members as store

    services = open_services()
    writer = None
    with services.db.session() as db:
        for row in store.export_rows(db):
            if writer is None:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
    if writer is None:
        csv.writer(sys.stdout).writerow(list(store.CSV_COLUMNS) + ["consent_at", "opted_out_at", "opted_in_at"])
