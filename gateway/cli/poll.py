"""``outreach poll create|send|results|close|list``."""

from __future__ import annotations

import csv
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from gateway.cli import cli, fail, in_languages, open_services
from gateway.cli.broadcast import _preview, send


@cli.group()
def poll() -> None:
    """Quick polls by SMS: members answer 2, ໒, b, the option's word, or P4 2."""


def find(db, ident: str):
    """A poll by id (``4``) or code (``P4``), or exit 1."""
    from sqlalchemy import select

    from gateway.store.models import Poll

    ident = ident.strip()
    row = db.get(Poll, int(ident)) if ident.isdigit() else db.scalar(select(Poll).where(Poll.code == ident.upper()))
    if row is None:
        fail(f"no poll {ident}; see `outreach poll list`")
    return row


@poll.command("create")
@click.option(
    "--question",
    "questions",
    type=(str, str),
    multiple=True,
    metavar="LANGUAGE TEXT",
    help='The question in one language (repeat per language): --question lo "…" --question en "…".',
)
@click.option(
    "--option",
    "options",
    type=(str, str),
    multiple=True,
    metavar="LANGUAGE TEXT",
    help="An option in one language; repeat in order, the same number in each language.",
)
@click.option("--code", default="", help="What members may type first, e.g. P4 (default: the next free P<n>).")
@click.option(
    "--audience",
    "audience_spec",
    default="all",
    show_default=True,
    help="Same filters as broadcasts: 'topic=nutrition;province=bokeo;language=lo;session=3'.",
)
@click.option("--opens", default="", help="Local time it opens, e.g. '2026-11-22 08:00' (default: now).")
@click.option("--closes", default="", help="Local time it closes (default: --open-for after opening).")
@click.option("--open-for", default="7d", show_default=True, help="How long it stays open: 2h, 3d ...")
@click.option("--confirm", is_flag=True, help="Thank each voter by SMS (one more message each).")
def create_command(questions, options, code, audience_spec, opens, closes, open_for, confirm):
    """Create a poll (nothing is sent) and show what sending it would cost."""
    from gateway.cli.members import vocabulary
    from gateway.config import duration_minutes
    from gateway.messaging.audience import Audience
    from gateway.polls import poll as polls
    from gateway.store.models import utcnow
    from gateway.store.schedule import parse_local_time

    services = open_services()
    config = services.config
    questions = {lang: text.strip() for lang, text in in_languages(questions, "--question").items() if text.strip()}
    by_language: dict[str, list[str]] = {}
    for lang, text in options:
        by_language.setdefault(lang.strip().lower(), []).append(text.strip())
    counts = {lang: len(texts) for lang, texts in by_language.items()}
    if len(set(counts.values())) > 1:
        fail(
            "poll not created: "
            + ", ".join(f"{n} --option {lang}" for lang, n in counts.items())
            + "; give each option in every language, in the same order"
        )
    options = [
        {lang: texts[n] for lang, texts in by_language.items() if texts[n]}
        for n in range(max(counts.values(), default=0))
    ]
    try:
        audience = Audience.parse(audience_spec, vocabulary(services))
        opens_at = parse_local_time(opens, config.timezone) if opens else utcnow()
        closes_at = (
            parse_local_time(closes, config.timezone)
            if closes
            else opens_at + timedelta(minutes=duration_minutes(open_for))
        )
        with services.db.session() as db:
            code = code.strip().upper() or polls.next_code(db)
            polls.check(code, questions, options, opens_at, closes_at, services.catalog.languages)
            row = polls.create(db, code, questions, options, audience, opens_at, closes_at, confirm=confirm)
            broadcast_id = polls.start_broadcast(db, row, services.catalog).id
            poll_id = row.id
    except ValueError as exc:
        fail(f"poll not created: {exc}")
    zone = ZoneInfo(config.timezone)
    click.echo(
        f"poll {poll_id} ({code}) created: open {opens_at.astimezone(zone):%d %b %H:%M} "
        f"to {closes_at.astimezone(zone):%d %b %H:%M}. Send it with `outreach poll send {code}`."
    )
    _warn_if_long_for_ussd(services, code, questions, options)
    _preview(services, broadcast_id)


def _warn_if_long_for_ussd(services, code: str, questions: dict, options: list[dict]) -> None:
    """On USSD the question and its answers share one 80-character screen in Lao:
    say so when she would have to press 98 before she could answer."""
    from gateway.content.flowcheck import options_on_first_page
    from gateway.engine import Option, Screen, Text
    from gateway.engine.events import localized

    for lang in questions:
        screen = Screen(
            Text("poll.question", {"code": code, "question": localized(questions)}),
            tuple(
                Option(str(n), Text("option.item", {"label": localized(option)}))
                for n, option in enumerate(options, start=1)
            ),
        )
        if not options_on_first_page(screen, services.catalog, lang):
            click.secho(
                f"warning: in {lang}, the question and its answers do not fit one USSD screen, "
                f"so members who answer from the Polls menu must press 98 to see the answers. "
                f"A shorter question reads better there (SMS is not affected).",
                fg="yellow",
            )


@poll.command("send")
@click.argument("poll_ref", metavar="ID_OR_CODE")
@click.option("--yes", is_flag=True, help="Send without asking (for scripts).")
def send_command(poll_ref, yes):
    """Send the question to the poll's audience (held until it opens and after quiet hours)."""
    from gateway.store.models import utcnow

    services = open_services()
    with services.db.session() as db:
        row = find(db, poll_ref)
        if row.closed_at is not None or row.closes_at <= utcnow():
            fail(f"poll {row.code} has closed; create a new one")
        broadcast_id, opens_at, code = row.broadcast_id, row.opens_at, row.code
    send(
        services,
        broadcast_id,
        yes,
        not_before=opens_at,
        watch_hint=f"Watch answers with `outreach poll results {code}`.",
    )


@poll.command("close")
@click.argument("poll_ref", metavar="ID_OR_CODE")
def close_command(poll_ref):
    """Close now: later answers are not counted, and unsent questions are not sent."""
    from gateway.polls import poll as polls

    services = open_services()
    with services.db.session() as db:
        row = find(db, poll_ref)
        stopped = polls.close(db, row)
        code = row.code
    click.echo(f"poll {code} closed; {stopped} unsent question(s) stopped")


@poll.command("list")
def list_command():
    """Every poll: code, state, answers, question."""
    from sqlalchemy import func, select

    from gateway.polls.poll import label
    from gateway.store.models import Poll, PollVote, utcnow

    services = open_services()
    zone = ZoneInfo(services.config.timezone)
    now = utcnow()
    with services.db.session() as db:
        votes = dict(db.execute(select(PollVote.poll_id, func.count()).group_by(PollVote.poll_id)).all())
        rows = db.scalars(select(Poll).order_by(Poll.id.desc())).all()
        if not rows:
            click.echo("no polls yet; create one with `outreach poll create`")
        for row in rows:
            state = "open" if row.is_open(now) else ("not open yet" if row.opens_at > now else "closed")
            click.echo(
                f"{row.id:>4}  {row.code:<6} {state:<12} closes {row.closes_at.astimezone(zone):%d %b %H:%M}  "
                f"{votes.get(row.id, 0):>6} answer(s)  {label(row.questions, 'en')}"
            )


@poll.command("results")
@click.argument("poll_ref", metavar="ID_OR_CODE")
@click.option("--csv", "csv_file", default=None, help="Write the table to FILE ('-' for the screen).")
@click.option(
    "--chart",
    "chart_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw a bar chart to FILE.png or FILE.svg.",
)
@click.option("--lang", default=None, help="Language of labels (default: DEFAULT_LANGUAGE).")
@click.option(
    "--raw",
    is_flag=True,
    help="With --csv: replies exactly as typed, for scripts (a spreadsheet may run a member-typed =FORMULA in them).",
)
def results_command(poll_ref, csv_file, chart_file, lang, raw):
    """Counts and percentages, response rate, breakdowns, replies that did not count."""
    from gateway.polls import charts
    from gateway.polls import results as poll_results
    from gateway.store.models import utcnow

    services = open_services()
    config = services.config
    lang = _language(services, lang)
    _check_chart_file(chart_file)
    with services.db.session() as db:
        results = poll_results.compute(db, find(db, poll_ref), lang)
    if csv_file:
        write_csv(poll_results.table(results), csv_file, raw)
    else:
        _print(results, ZoneInfo(config.timezone))
    if chart_file:
        charts.save(poll_results.chart(results, lang, services.catalog, utcnow()), chart_file)
        click.echo(f"chart written to {chart_file}", err=bool(csv_file == "-"))


def _language(services, lang: str | None) -> str:
    lang = lang or services.config.default_language
    if lang not in services.catalog.languages:
        fail(f"no language {lang!r}; use {', '.join(services.catalog.languages)}")
    return lang


def _check_chart_file(chart_file: Path | None) -> None:
    """Refuse a bad chart name before any work, so nothing is half-written."""
    if chart_file is None:
        return
    if chart_file.suffix.lower() not in (".png", ".svg"):
        fail(f"--chart must name a .png or .svg file, not {chart_file.name!r}")
    if not chart_file.parent.is_dir():
        fail(f"--chart: folder {chart_file.parent} does not exist")


def write_csv(rows: list[list], target: str, raw: bool = False) -> None:
    """The table as CSV; cells a spreadsheet would run as a formula made plain unless ``raw``."""
    from gateway.store.csvfile import plain_row

    rows = rows if raw else [plain_row(row) for row in rows]
    if target == "-":
        csv.writer(sys.stdout).writerows(rows)
        return
    path = Path(target)
    if not path.parent.is_dir():
        fail(f"--csv: folder {path.parent} does not exist")
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    click.echo(f"table written to {path}")


def _print(results, zone) -> None:
    poll = results.poll
    rate = "–" if results.response_rate is None else f"{results.response_rate:.1f}%"
    click.secho(f"Poll {poll.code}: {poll.questions.get('en') or next(iter(poll.questions.values()))}", bold=True)
    closes = poll.closed_at or poll.closes_at
    click.echo(f"  open {poll.opens_at.astimezone(zone):%d %b %Y %H:%M} to {closes.astimezone(zone):%d %b %Y %H:%M}")
    click.echo(f"  reached {results.reached:,}, answered {results.answered:,}, response rate {rate}")
    click.echo("")
    width = max(len(text) for text in results.labels)
    for n, text in enumerate(results.labels, start=1):
        votes, percent = results.overall.votes[n - 1], results.overall.percent(n - 1)
        bar = "█" * round(percent / 4)
        click.echo(f"  {n}. {text:<{width}}  {votes:>7,}  {percent:5.1f}%  {bar}")
    for title, groups in (("By province", results.by_province), ("By language", results.by_language)):
        if not groups:
            continue
        click.echo(f"\n{title}:")
        head = "  ".join(f"{n:>6}" for n in range(1, len(results.labels) + 1))
        click.echo(f"  {'':<20} {head}   total")
        for name, tally in groups.items():
            cells = "  ".join(f"{tally.percent(i):5.1f}%" for i in range(len(results.labels)))
            click.echo(f"  {name[:20]:<20} {cells}  {tally.total:>6,}")
    click.echo(f"\nReplies not counted: {results.invalid_count:,}")
    for when, reason, text in results.invalid:
        click.echo(f"  {when.astimezone(zone):%d %b %H:%M}  {reason:<8} {text!r}")
