"""``outreach members import|export|show|erase``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from gateway.cli import actor, cli, fail, open_services, run_import


@cli.group()
def members() -> None:
    """Import, export, show and erase members."""


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
            return store.import_rows(
                db, read_rows(file, ("phone",), store.CSV_COLUMNS), vocabulary(services), config.default_language
            )

    run_import(
        file,
        do_import,
        lambda report: f"{report.created} created, {report.updated} updated, {len(report.rejected)} rejected",
    )


@members.command("export")
@click.option(
    "--raw",
    is_flag=True,
    help="Cells exactly as stored, for scripts (a spreadsheet may run a member-typed =FORMULA in them).",
)
def export_command(raw: bool) -> None:
    """Write every member as CSV to standard output. Cells a spreadsheet would run as
    a formula (=, @, + or - before anything but a number) get a leading apostrophe."""
    from gateway.store import members as store
    from gateway.store.csvfile import plain_row

    services = open_services()
    writer = None
    with services.db.session() as db:
        for row in store.export_rows(db):
            if writer is None:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row if raw else plain_row(row))
    if writer is None:
        csv.writer(sys.stdout).writerow(list(store.CSV_COLUMNS) + ["consent_at", "opted_out_at", "opted_in_at"])


def _find(db, who: str):
    """The member named by a phone number (any usual form) or by ``id``."""
    from gateway.phone import to_e164
    from gateway.store import members as store
    from gateway.store.models import Member

    phone = to_e164(who)
    member = store.by_phone(db, phone) if phone else (db.get(Member, int(who)) if who.isdigit() else None)
    if member is None or member.erased_at is not None:
        fail(
            f"no member {who!r}"
            + ("" if phone or who.isdigit() else "; give a phone number (+8562055512345) or a member id")
        )
    return member


@members.command("show")
@click.argument("who")
@click.option("--json", "as_json", is_flag=True, help="Everything held about her, as JSON.")
def show_command(who: str, as_json: bool) -> None:
    """Everything held about one member (PHONE or ID): an access request."""
    import json

    from gateway.store import privacy

    services = open_services()
    with services.db.session() as db:
        data = privacy.report(db, _find(db, who))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            click.echo(f"{key}: {len(value)}")
            for item in value:
                click.echo("  " + ", ".join(f"{k} {v}" for k, v in item.items() if v is not None))
        elif isinstance(value, list):  # plain values, such as her topics
            click.echo(f"{key}: {', '.join(map(str, value))}")
        else:
            click.echo(f"{key}: {value if value is not None else ''}")


@members.command("erase")
@click.argument("who")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(who: str, yes: bool) -> None:
    """Erase one member (PHONE or ID): her name, number, organisation, topics, the
    texts sent to her and what she typed, here and in Redis. Votes and quiz scores
    stay in the totals, without her. This cannot be undone."""
    from gateway.channels.erasure import erase_member
    from gateway.channels.sms.inbox import Inbox
    from gateway.channels.sms.spool import Spool
    from gateway.phone import mask

    services = open_services()
    with services.db.session() as db:
        member = _find(db, who)
        member_id, phone = member.id, member.phone
    click.echo(
        f"member {member_id} ({mask(phone)}): name, number, organisation, topics and every "
        "message text will be removed; votes and quiz scores stay in the totals."
    )
    if not yes and not click.confirm("Erase her for good?", default=False):
        click.echo("nothing was erased")
        return
    erased = erase_member(
        services, Inbox.of(services), Spool(services.config.instance_path / "spool"), member_id, actor()
    )
    click.echo(
        f"member {member_id} erased: {erased.messages} message text(s), {erased.replies} "
        f"typed repl(ies), {erased.waiting_texts} unprocessed text(s) of hers on this host, "
        f"{erased.redis_keys} Redis key(s). A text of hers another host kept through an outage "
        "is dropped unread when it comes through."
    )
