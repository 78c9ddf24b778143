"""``outreach sessions add|import|list|show|edit|cancel``."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click

from gateway.cli import cli, fail, fetch, in_languages, open_services, run_import
from gateway.cli.members import vocabulary


@cli.group()
def sessions() -> None:
    """Schedule hangouts, trainings and community-of-practice meetings."""


TITLE_HELP = 'The title in one language (repeat per language): --title lo "…" --title en "…".'


@sessions.command("add")
@click.option("--title", "titles", type=(str, str), multiple=True, metavar="LANGUAGE TEXT", help=TITLE_HELP)
@click.option("--kind", default="hangout", show_default=True, help="hangout, training or community_of_practice.")
@click.option("--topic", required=True, help="Topic group key, e.g. nutrition.")
@click.option(
    "--language",
    required=True,
    help="A members' language (lo, en, ...), or all for a session held in every one (its reminders go to all).",
)
@click.option("--starts", "starts_at", required=True, help="Local start time, e.g. '2026-11-27 14:00' (TIMEZONE).")
@click.option("--duration", "duration_minutes", default="60", show_default=True, help="Minutes.")
@click.option("--place", default="")
@click.option("--link", "join_link", default="")
@click.option("--dial-in", "dial_in", default="")
@click.option("--capacity", default="")
@click.option(
    "--feedback-after",
    default=None,
    help="Ask enrolled members a feedback poll this long after the end: 2h, 1d, or 'off' (default: FEEDBACK_AFTER).",
)
def add_command(feedback_after, titles, **values) -> None:
    """Add one session."""
    from gateway.store import schedule

    values.update({f"title_{lang}": text for lang, text in in_languages(titles, "--title").items()})
    services = open_services()
    config = services.config
    try:
        fields = schedule.session_fields(values, vocabulary(services), config.timezone)
        fields["feedback_after_minutes"] = _feedback_minutes(config, feedback_after)
    except ValueError as exc:
        fail(f"session not added: {exc}")
    with services.db.session() as db:
        row = schedule.add(db, fields)
    click.echo(f"session {row.id} added for {row.starts_at.astimezone(ZoneInfo(config.timezone)):%a %d %b %Y %H:%M}")
    _warn_long_titles(services.catalog, fields["titles"])
    _reminders(services, row.id)


def _warn_long_titles(catalog, titles: dict[str, str]) -> None:
    """The Next session screen has room for only so much title (80 characters in
    Lao, options included): say how it will look when it is cut."""
    from gateway.content.prompts import fit

    for lang, title in titles.items():
        room = catalog.room(lang, "next_session.details", "title")
        if room is not None and len(title) > room:
            click.secho(
                f"warning: the {lang} title is {len(title)} characters; the USSD screen has "
                f"room for {room} and shows {fit(title, room)!r}. A shorter --title {lang} "
                "reads better (the whole title still goes out by SMS).",
                fg="yellow",
            )


def _feedback_minutes(config, text: str | None) -> int | None:
    from gateway.config import duration_minutes

    if text is None:
        return config.feedback_minutes()
    if text.strip().lower() in ("off", "none", "no"):
        return None
    return duration_minutes(text)


def _reminders(services, session_id: int) -> None:
    from gateway.messaging import reminders
    from gateway.store import schedule

    reminders.schedule(services, session_id)
    zone = ZoneInfo(services.config.timezone)
    with services.db.session() as db:
        for r in schedule.reminders(db, session_id):
            what = (
                "feedback poll"
                if r.kind == "feedback"
                else f"reminder {r.offset_minutes // 60}h{r.offset_minutes % 60:02d} before"
            )
            click.echo(f"  {what}: {r.due_at.astimezone(zone):%a %d %b %H:%M} ({r.status})")


@sessions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Add sessions from FILE.csv.

    Columns: title_lo,title_en,kind,topic,language,starts_at,duration_minutes,
    place,join_link,dial_in,capacity. starts_at is local time (2026-11-27 14:00).
    """
    from gateway.store import schedule
    from gateway.store.csvfile import read_rows

    services = open_services()
    config = services.config

    def do_import():
        with services.db.session() as db:
            return schedule.import_rows(
                db,
                read_rows(file, ("topic", "language", "starts_at"), schedule.CSV_COLUMNS),
                vocabulary(services),
                config.timezone,
                config.feedback_minutes(),
            )

    report = run_import(
        file, do_import, lambda report: f"{len(report.created)} session(s) added, {len(report.rejected)} rejected"
    )
    for session_id in report.created:
        _reminders(services, session_id)


@sessions.command("list")
@click.option("--all", "include_past", is_flag=True, help="Include past sessions.")
def list_command(include_past: bool) -> None:
    """List upcoming sessions in local time."""
    from gateway.store import schedule

    services = open_services()
    zone = ZoneInfo(services.config.timezone)
    with services.db.session() as db:
        rows = schedule.upcoming(db, include_past=include_past)
        if not rows:
            click.echo("no upcoming sessions; add one with `outreach sessions add`")
            return
        click.echo(f"{'id':>4}  {'starts (local)':<17} {'kind':<10} {'topic':<15} lang  enrolled  title")
        for row in rows:
            seats = f"{schedule.enrolled_count(db, row.id)}/{row.capacity or '-'}"
            title = row.titles.get("en") or next(iter(row.titles.values()))
            status = " (cancelled)" if row.cancelled_at else ""
            click.echo(
                f"{row.id:>4}  {row.starts_at.astimezone(zone):%Y-%m-%d %H:%M} "
                f"{row.kind[:10]:<10} {row.topic:<15} {row.language:<5} {seats:<9} "
                f"{title}{status}"
            )


@sessions.command("edit")
@click.argument("session_id", type=int)
@click.option("--title", "titles", type=(str, str), multiple=True, metavar="LANGUAGE TEXT", help=TITLE_HELP)
@click.option("--starts", "starts_at", default=None, help="New local start time; reminders move with it.")
@click.option("--duration", "duration_minutes", default=None)
@click.option("--place", default=None)
@click.option("--link", "join_link", default=None)
@click.option("--dial-in", "dial_in", default=None)
@click.option("--capacity", default=None)
@click.option("--feedback-after", default=None, help="2h, 1d, or 'off'.")
def edit_command(session_id, feedback_after, titles, **changes):
    """Change a session; its reminders move with it."""
    from gateway.store import schedule
    from gateway.store.models import TrainingSession

    services = open_services()
    config = services.config
    with services.db.session() as db:
        row = fetch(db, TrainingSession, session_id, "session", "see `outreach sessions list --all`")
        retitled = {f"title_{lang}": text for lang, text in in_languages(titles, "--title").items()}
        current = {
            **{f"title_{lang}": text for lang, text in row.titles.items()},
            **retitled,
            "kind": row.kind,
            "topic": row.topic,
            "language": row.language,
            "starts_at": row.starts_at.isoformat(),
            "duration_minutes": row.duration_minutes,
            "place": row.place,
            "join_link": row.join_link,
            "dial_in": row.dial_in,
            "capacity": row.capacity,
        }
        current.update({k: v for k, v in changes.items() if v is not None})
        try:
            fields = schedule.session_fields(current, vocabulary(services), config.timezone)
            if feedback_after is not None:
                fields["feedback_after_minutes"] = _feedback_minutes(config, feedback_after)
        except ValueError as exc:
            fail(f"session not changed: {exc}")
        for key, value in fields.items():
            setattr(row, key, value)
    click.echo(f"session {session_id} updated")
    if titles:
        _warn_long_titles(services.catalog, fields["titles"])
    _reminders(services, session_id)


@sessions.command("cancel")
@click.argument("session_id", type=int)
def cancel_command(session_id):
    """Cancel a session; its reminders are never sent."""
    from gateway.store.models import TrainingSession, utcnow

    services = open_services()
    with services.db.session() as db:
        row = fetch(db, TrainingSession, session_id, "session", "see `outreach sessions list --all`")
        row.cancelled_at = row.cancelled_at or utcnow()
    click.echo(f"session {session_id} cancelled")
    _reminders(services, session_id)


@sessions.command("show")
@click.argument("session_id", type=int)
def show_command(session_id):
    """One session: when and where, who enrolled, reminders, and its feedback."""
    from sqlalchemy import select

    from gateway.polls import results as poll_results
    from gateway.store import schedule
    from gateway.store.models import Poll, TrainingSession

    services = open_services()
    config = services.config
    zone = ZoneInfo(config.timezone)
    with services.db.session() as db:
        row = fetch(db, TrainingSession, session_id, "session", "see `outreach sessions list --all`")
        click.secho(f"Session {row.id}: {' / '.join(row.titles.values())}", bold=True)
        click.echo(f"  {row.kind}, topic {row.topic}, in {row.language}" + (" (cancelled)" if row.cancelled_at else ""))
        click.echo(f"  {row.starts_at.astimezone(zone):%a %d %b %Y %H:%M}, {row.duration_minutes} min")
        click.echo(f"  where: {schedule.where_to_join(row) or '-'}")
        click.echo(f"  enrolled: {schedule.enrolled_count(db, row.id)}/{row.capacity or '-'}")
        for r in schedule.reminders(db, row.id):
            what = "feedback poll" if r.kind == "feedback" else "reminder"
            click.echo(f"  {what}: {r.due_at.astimezone(zone):%a %d %b %H:%M} ({r.status})")
        feedback = db.scalar(select(Poll).where(Poll.session_id == row.id, Poll.kind == "feedback"))
        if feedback is None:
            asked = "not asked" if row.feedback_after_minutes is None else "not asked yet"
            click.echo(f"  feedback answers: {asked}")
            return
        results = poll_results.compute(db, feedback, "en")
    votes = results.overall.votes
    average = sum(n * v for n, v in enumerate(votes, start=1)) / results.answered if results.answered else 0
    rate = "–" if results.response_rate is None else f"{results.response_rate:.0f}%"
    click.echo(
        f"  feedback (poll {feedback.code}): {results.answered} answer(s) of {results.reached} "
        f"asked ({rate}), average {average:.1f} of 5"
    )
    for n, text in enumerate(results.labels, start=1):
        bar = "█" * min(votes[n - 1], 40) + ("…" if votes[n - 1] > 40 else "")
        click.echo(f"    {n} {text:<18} {votes[n - 1]:>5}  {bar}")
