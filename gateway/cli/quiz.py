"""``outreach quiz report``."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli import cli, fail, open_services
from gateway.cli.poll import _check_chart_file, _language, write_csv


@cli.group()
def quiz() -> None:
    """Quizzes: what members get right and wrong."""


@quiz.command("report")
@click.option("--csv", "csv_file", default=None, help="Write the table to FILE ('-' for the screen).")
@click.option(
    "--chart",
    "chart_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw FILE.png/.svg (percent correct per question) and FILE-scores.png/.svg.",
)
@click.option("--lang", default=None, help="Language of question texts (default: DEFAULT_LANGUAGE).")
@click.option(
    "--quiz",
    "name",
    default="digital_safety",
    show_default=True,
    help="Which quiz (a quiz's name: quizzes/<name>.yaml).",
)
def report_command(csv_file, chart_file, lang, name):
    """Percent correct per question (overall, by province, by language), scores, attempts."""
    from gateway.polls import charts, quiz_report
    from gateway.store.models import utcnow

    services = open_services()
    lang = _language(services, lang)
    _check_chart_file(chart_file)
    with services.db.session() as db:
        report = quiz_report.compute(db, services.book, services.catalog, lang, quiz=name)
    if not report.questions:
        fail(f"no quiz named {name!r}")
    if csv_file:
        write_csv(quiz_report.table(report), csv_file)
    else:
        _print(report)
    if chart_file:
        title = "report.digital_safety" if name == "digital_safety" else f"quizzes.{name}.title"
        by_question, by_score = quiz_report.charts(report, lang, services.catalog, utcnow(), title)
        scores_file = chart_file.with_name(f"{chart_file.stem}-scores{chart_file.suffix}")
        charts.save(by_question, chart_file)
        charts.save(by_score, scores_file)
        click.echo(f"charts written to {chart_file} and {scores_file}", err=bool(csv_file == "-"))


def _print(report) -> None:
    click.secho(f"Quiz {report.quiz}: {report.attempts:,} finished attempt(s)", bold=True)
    if not report.attempts and not any(q.overall.answered for q in report.questions):
        click.echo("  nobody has taken the quiz yet")
        return
    click.echo("\nCorrect answers per question:")
    for n, question in enumerate(report.questions, start=1):
        share = question.overall
        click.echo(f"  {n}. {share.percent:5.1f}% of {share.answered:>6,}  {question.key}: {question.text}")
    for title, attribute in (("By province", "by_province"), ("By language", "by_language")):
        names = sorted({name for q in report.questions for name in getattr(q, attribute)})
        if not names:
            continue
        click.echo(f"\n{title} (percent correct):")
        click.echo(f"  {'':<20} " + "  ".join(f"{'Q' + str(n):>6}" for n in range(1, len(report.questions) + 1)))
        for name in names:
            cells = []
            for question in report.questions:
                share = getattr(question, attribute).get(name)
                cells.append(f"{share.percent:5.1f}%" if share and share.answered else f"{'–':>6}")
            click.echo(f"  {name[:20]:<20} " + "  ".join(cells))
    click.echo("\nScores:")
    for score, count in report.scores.items():
        percent = 100.0 * count / report.attempts if report.attempts else 0.0
        click.echo(f"  {score}/{report.total}  {count:>6,}  {percent:5.1f}%  {'█' * round(percent / 4)}")
