"""``outreach broadcast create|preview|send|status|cancel|list``."""

from __future__ import annotations

import sys
import time

import click

from gateway.cli import actor, cli, fail, fetch, in_languages, open_services


@cli.group()
def broadcast() -> None:
    """Announcements to many members: preview the cost, send, watch, cancel."""


def _texts(services, given) -> dict:
    from gateway.messaging.broadcasts import check_texts

    try:
        return check_texts(in_languages(given, "--text"), services.catalog.languages)
    except ValueError as exc:
        fail(f'broadcast not created: {exc} (--text LANGUAGE TEXT, e.g. --text lo "…" --text en "…")')


def _create(services, audience_spec: str, given, name: str, session: int | None):
    from gateway.cli.members import vocabulary
    from gateway.messaging import broadcasts
    from gateway.messaging.audience import Audience

    texts = _texts(services, given)
    try:
        audience = Audience.parse(audience_spec, vocabulary(services))
    except ValueError as exc:
        fail(f"broadcast not created: {exc}")
    if audience.session_id and session is None:
        session = audience.session_id
    config = services.config
    with services.db.session() as db:
        row = broadcasts.create(db, texts, audience, name, session)
        problem = broadcasts.preview_of(db, row, services.catalog, config).problem()
        if problem is not None:  # nothing is kept: a text with a blank never waits to be sent
            db.rollback()
            fail(f"broadcast not created: {problem}")
        return row.id


def _preview(services, broadcast_id: int):
    from gateway.messaging import broadcasts
    from gateway.store.models import Broadcast

    config = services.config
    with services.db.session() as db:
        row = fetch(db, Broadcast, broadcast_id, "broadcast", "see `outreach broadcast list`")
        result = broadcasts.preview_of(db, row, services.catalog, config)
        audience = broadcasts.Audience.from_dict(row.audience).describe()
    click.secho(f"Broadcast {broadcast_id}: {audience}", bold=True)
    for entry in result.languages:
        click.echo(
            f"  {entry.language}: {entry.recipients} recipient(s), {entry.encoding}, "
            f"{entry.segments} segment(s) in all "
            f"({entry.segments / max(entry.recipients, 1):.1f} per message)"
        )
        for body, count in entry.examples:  # each different text, not only the first
            shown = f"({count}) " if len(entry.examples) > 1 else ""
            click.echo("      " + shown + body.replace("\n", "\n      "))
        others = entry.recipients - sum(count for _, count in entry.examples)
        if others > 0:
            click.echo(f"      ... and {others} more, each its own")
    click.echo(
        f"  total: {result.recipients} recipient(s), {result.segments} segment(s), "
        f"estimated cost {result.cost:,.2f} {result.currency}"
    )
    minutes = services.provider.minutes_for(result.recipients) if result.recipients else None
    if minutes is not None:  # phones send at their own rate: say how long
        phones = services.provider.senders()
        click.echo(
            f"  time: {result.recipients:,} messages over {phones} phone{'s' if phones != 1 else ''}: "
            f"about {duration(minutes)} (quiet hours pause it; it resumes in the morning)"
        )
    return result


def duration(minutes: float) -> str:
    """A send's length as a person says it: "about 1 h 40 min", "3 min"."""
    total = max(1, round(minutes))
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest} min" if hours and rest else (f"{hours} h" if hours else f"{rest} min")


@broadcast.command("create")
@click.option(
    "--audience",
    "audience_spec",
    default="all",
    show_default=True,
    help="'all' or e.g. 'topic=nutrition;province=bokeo,saravane;language=lo;session=3'.",
)
@click.option(
    "--text",
    "texts",
    type=(str, str),
    multiple=True,
    metavar="LANGUAGE TEXT",
    help='The text in one language (repeat per language): --text lo "…" --text en "…". '
    "Placeholders: {name}, {session.title}, {session.starts_at}.",
)
@click.option("--name", default="", help="A name for your own records.")
@click.option("--session", type=int, default=None, help="Session the placeholders refer to.")
def create_command(audience_spec, texts, name, session):
    """Create a broadcast (nothing is sent) and show its preview."""
    services = open_services()
    broadcast_id = _create(services, audience_spec, texts, name, session)
    click.echo(f"broadcast {broadcast_id} created")
    _preview(services, broadcast_id)


@broadcast.command("preview")
@click.argument("broadcast_id", type=int)
def preview_command(broadcast_id):
    """Recipients per language, encoding, segments and estimated cost."""
    _preview(open_services(), broadcast_id)


@broadcast.command("send")
@click.argument("broadcast_id", type=int, required=False)
@click.option("--audience", "audience_spec", default=None, help="Create and send in one step.")
@click.option("--text", "texts", type=(str, str), multiple=True, metavar="LANGUAGE TEXT")
@click.option("--name", default="")
@click.option("--yes", is_flag=True, help="Send without asking (for scripts).")
@click.option("--urgent", is_flag=True, help="In quiet hours, send now instead of in the morning (audited).")
def send_command(broadcast_id, audience_spec, texts, name, yes, urgent):
    """Send broadcast ID, or create one from --audience/--text and send it."""
    services = open_services()
    if broadcast_id is None:
        if audience_spec is None:
            fail("give a broadcast id, or --audience and --text to create one")
        broadcast_id = _create(services, audience_spec, texts, name, None)
        click.echo(f"broadcast {broadcast_id} created")
    send(services, broadcast_id, yes, urgent=urgent)


def send(services, broadcast_id: int, yes: bool, not_before=None, watch_hint: str = "", urgent: bool = False) -> None:
    """Preview, ask (unless ``yes``), then write the outbox rows and queue the batches."""
    from gateway.messaging import broadcasts, bulk
    from gateway.store import audit
    from gateway.store.models import utcnow

    result = _preview(services, broadcast_id)
    if result.recipients == 0:
        fail("nobody is in this audience (registered, not opted out); nothing sent")
    if result.problem() is not None:
        fail(f"not sent: {result.problem()}")
    config = services.config
    held = broadcasts.next_allowed(utcnow(), config.quiet_window(), config.timezone)
    urgent = urgent and held is not None
    if held is not None and not urgent:
        click.echo(
            f"  quiet hours: it waits until {held.astimezone(_zone(services)):%H:%M %a %d %b} (--urgent sends now)"
        )
    if not yes:
        if not sys.stdin.isatty():
            fail("add --yes to send without a question")
        click.confirm(f"Send to {result.recipients} people for about {result.cost:,.2f} {result.currency}?", abort=True)
    try:
        added, batches, when = bulk.dispatch(services, broadcast_id, not_before, urgent=urgent)
    except (LookupError, ValueError) as exc:  # ValueError: a blank since the preview; nothing was written
        fail(f"not sent: {exc}")
    if urgent:
        with services.db.session() as db:
            audit.record(
                db, actor(), "broadcast.urgent", f"broadcast {broadcast_id}", f"{added} message(s), sent in quiet hours"
            )
    start = "now" if when is None else f"at {when.astimezone(_zone(services)):%d %b %H:%M}"
    click.echo(
        f"{added} message(s) added to the outbox in {batches} batch(es); sending starts "
        f"{start}. {watch_hint or f'Watch with `outreach broadcast status {broadcast_id} --watch`.'}"
    )


def _zone(services):
    from zoneinfo import ZoneInfo

    return ZoneInfo(services.config.timezone)


@broadcast.command("status")
@click.argument("broadcast_id", type=int)
@click.option("--watch", is_flag=True, help="Show a progress bar until it is done.")
def status_command(broadcast_id, watch):
    """Sent, delivered, failed, unknown and remaining. Only reads: it queues nothing."""
    from gateway.messaging import broadcasts
    from gateway.store.models import Broadcast

    services = open_services()
    database = services.db

    def counts():
        with database.session() as db:
            row = fetch(db, Broadcast, broadcast_id, "broadcast", "see `outreach broadcast list`")
            return row.status, broadcasts.progress(db, broadcast_id)

    status, now = counts()
    if watch and status == "sending":
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        total = sum(now.values())
        with Progress(
            TextColumn("[bold]broadcast {task.fields[id]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
        ) as bar:
            task = bar.add_task("send", total=total, id=broadcast_id, detail="")
            while True:
                status, now = counts()
                done = total - now["queued"] - now["sending"] - now["waiting"]
                bar.update(
                    task,
                    completed=done,
                    detail=(
                        f"sent {now['sent'] + now['delivered']}  failed {now['failed']}  "
                        f"unknown {now['unknown']}  remaining {now['queued'] + now['sending'] + now['waiting']}"
                    ),
                )
                if now["queued"] + now["sending"] + now["waiting"] == 0 or status == "cancelled":
                    break
                time.sleep(1)
    click.echo(f"broadcast {broadcast_id}: {status}")
    for key in ("sent", "delivered", "failed", "unknown", "cancelled"):
        click.echo(f"  {key:<10} {now[key]}")
    click.echo(f"  {'remaining':<10} {now['queued'] + now['sending'] + now['waiting']}")
    if now["unknown"]:
        click.secho(
            f"  {now['unknown']} message(s) were being sent when a worker stopped; they were "
            "not resent, and may or may not have arrived.",
            fg="yellow",
        )


@broadcast.command("resend-unknown")
@click.argument("broadcast_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def resend_unknown_command(broadcast_id, yes):
    """Send again the messages whose fate is unknown (the provider's answer was
    lost, or a worker stopped mid-send). Some of those members may already have
    the message, and will get a second copy."""
    from gateway.messaging import broadcasts, bulk
    from gateway.store import audit
    from gateway.store.models import Broadcast

    services = open_services()
    grace = services.config.resend_unknown_after
    with services.db.session() as db:
        row = fetch(db, Broadcast, broadcast_id, "broadcast", "see `outreach broadcast list`")
        if row.status == "cancelled":
            fail(f"broadcast {broadcast_id} was cancelled; nothing is resent")
        count = broadcasts.unknown_count(db, broadcast_id, grace)
        waiting = broadcasts.progress(db, broadcast_id)["unknown"] - count
    note = f" ({waiting} more are too recent: a delivery report may still settle them)" if waiting else ""
    click.echo(f"{count} message(s) of broadcast {broadcast_id} may or may not have arrived{note}.")
    if count == 0:
        return
    click.secho("Some of these members may already have it: they will get a second copy.", fg="yellow")
    if not yes and not click.confirm("Send them again?", default=False):
        click.echo("nothing was resent")
        return
    with services.db.session() as db:
        requeued = broadcasts.requeue_unknown(db, broadcast_id, grace)
        audit.record(db, actor(), "broadcast.resend_unknown", f"broadcast {broadcast_id}", f"{requeued} message(s)")
    added, batches, when = bulk.dispatch(services, broadcast_id)
    click.echo(
        f"{requeued} message(s) queued again in {batches} batch(es)"
        + ("" if when is None else f", from {when.astimezone(_zone(services)):%d %b %H:%M}")
    )


@broadcast.command("cancel")
@click.argument("broadcast_id", type=int)
def cancel_command(broadcast_id):
    """Stop a broadcast: messages not yet handed to the provider are not sent."""
    from gateway.messaging import broadcasts
    from gateway.store.models import Broadcast

    services = open_services()
    with services.db.session() as db:
        row = fetch(db, Broadcast, broadcast_id, "broadcast", "see `outreach broadcast list`")
        stopped = broadcasts.cancel(db, row)
    click.echo(f"broadcast {broadcast_id} cancelled; {stopped} unsent message(s) stopped")


@broadcast.command("list")
def list_command():
    """Every broadcast with its progress."""
    from sqlalchemy import select

    from gateway.messaging import broadcasts
    from gateway.store.models import Broadcast

    services = open_services()
    with services.db.session() as db:
        rows = db.scalars(select(Broadcast).order_by(Broadcast.id.desc())).all()
        if not rows:
            click.echo("no broadcasts yet; create one with `outreach broadcast create`")
        for row in rows:
            counts = broadcasts.progress(db, row.id)
            click.echo(
                f"{row.id:>4}  {row.created_at:%Y-%m-%d %H:%M}  {row.status:<9} "
                f"sent {counts['sent'] + counts['delivered']:>6}  failed {counts['failed']:>5}  "
                f"left {counts['queued'] + counts['sending'] + counts['waiting']:>6}  {row.name or ''}"
            )
