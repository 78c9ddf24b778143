"""``outreach secrets rotate``: a new secret for the whole deployment."""

from __future__ import annotations

import click

from gateway.cli import actor, cli

WHAT = {
    "secret_key": (
        "SECRET_KEY",
        "everyone signs in to the dashboard again; USSD sessions in progress start over",
    ),
    "webhook_token": (
        "AT_WEBHOOK_TOKEN",
        "paste the new callback URLs (`outreach up` prints them) into Africa's Talking's dashboard; "
        "requests with the old token get 403",
    ),
}


@cli.group()
def secrets() -> None:
    """The deployment's shared secrets, kept in the database."""


@secrets.command("rotate")
@click.argument("name", type=click.Choice(list(WHAT)))
def rotate_command(name: str) -> None:
    """Replace one secret by a new random one, for every host (restart each host after)."""
    from gateway.config import load_config
    from gateway.store import audit
    from gateway.store.database import Database
    from gateway.store.secrets import rotate

    config = load_config()
    variable, effect = WHAT[name]
    database = Database(config.sqlalchemy_url)
    try:
        rotate(database, name)
        with database.session() as db:
            audit.record(db, actor(), "secret.rotate", "deployment", name)
    finally:
        database.dispose()
    click.echo(f"{name}: a new one is in the database. Restart every host; then {effect}.")
    if getattr(config, variable.lower(), ""):
        click.secho(
            f"  {variable} is set in this host's environment, and wins over the database's: unset it.",
            fg="yellow",
        )
