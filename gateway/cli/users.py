"""``outreach users add``: organisers' accounts for the dashboard."""

from __future__ import annotations

import sys

import click

from gateway.cli import actor, cli, fail, open_services


@cli.group()
def users() -> None:
    """Accounts for the organiser dashboard."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "organiser", "viewer"]), required=True,
              help="viewer reads; organiser also sends, edits and erases; admin also manages accounts.")
@click.option("--language", type=click.Choice(["lo", "en"]), default="lo", show_default=True,
              help="The dashboard's language for this account (each user can switch).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def add_command(email: str, role: str, language: str, password_stdin: bool) -> None:
    """Create an account; asks for the password twice unless --password-stdin."""
    from gateway.store import audit
    from gateway.store import users as accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    services = open_services()
    try:
        with services.db.session() as db:
            user = accounts.add(db, email, password, role, language)
            audit.record(db, actor(), "add user", f"user {user.id}", f"role {role}")
            user_id = user.id
    except ValueError as exc:
        fail(f"account not created: {exc}")
    click.echo(f"user {user_id} ({email.strip().lower()}, {role}) created; sign in at /login")
