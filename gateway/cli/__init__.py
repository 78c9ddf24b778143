"""The ``outreach`` command. Each subcommand exits non-zero with a message a person
can act on; none prints a stack trace for a mistake in its input."""

from __future__ import annotations

import sys

import click

from ..errors import GatewayError


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


def main() -> None:
    from . import flows, members, schedule, simulate, up  # noqa: F401 (registers commands)

    cli(prog_name="outreach")


def open_app():
    """The app with its database migrated: for commands that read or write data."""
    from .. import create_app

    app = create_app()
    app.extensions["db"].upgrade()
    return app


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)
