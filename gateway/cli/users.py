"""``outreach users add|list|disable|enable|set-role|reset-password``: organisers'
accounts for the dashboard. Every change is audited; a new role, a new password and
disabling end every session of that account at once."""

from __future__ import annotations

import sys

import click

from gateway.cli import actor, cli, fail, open_services
from gateway.store.users import ROLES


@cli.group()
def users() -> None:
    """Accounts for the organiser dashboard."""


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(list(ROLES)),
    required=True,
    help="viewer reads; organiser also sends, edits and erases; editor also publishes content; admin also manages accounts.",
)
@click.option(
    "--language",
    type=click.Choice(["lo", "en"]),
    default="lo",
    show_default=True,
    help="The dashboard's language for this account (each user can switch).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def add_command(email: str, role: str, language: str, password_stdin: bool) -> None:
    """Create an account; asks for the password twice unless --password-stdin."""
    from gateway.store import audit
    from gateway.store import users as accounts

    password = _read_password(password_stdin)
    services = open_services()
    try:
        with services.db.session() as db:
            user = accounts.add(db, email, password, role, language)
            audit.record(db, actor(), "user.add", f"user {user.id}", f"role {role}")
            user_id = user.id
    except ValueError as exc:
        fail(f"account not created: {exc}")
    click.echo(f"user {user_id} ({email.strip().lower()}, {role}) created; sign in at /login")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _change(email: str, change, action: str, detail=None) -> None:
    """Apply ``change(db, user)`` to EMAIL's account, audited; exit 1 with the reason
    (and nothing written) when there is no such account or the change is refused."""
    from gateway.store import audit
    from gateway.store import users as accounts

    services = open_services()
    try:
        with services.db.session() as db:
            user = accounts.by_email(db, email)
            if user is None:
                raise ValueError(f"no account {email.strip().lower()!r} (see `outreach users list`)")
            change(db, user)
            audit.record(db, actor(), action, f"user {user.id}", detail)
    except ValueError as exc:
        fail(f"nothing changed: {exc}")


@users.command("list")
def list_command() -> None:
    """Every account: email, role, whether it may sign in, and its last sign-in."""
    from gateway.store import users as accounts

    services = open_services()
    with services.db.session() as db:
        rows = accounts.everyone(db)
        if not rows:
            click.echo("no accounts yet; add one with: outreach users add EMAIL --role admin")
        for user in rows:
            state = "disabled" if user.disabled_at else "enabled"
            last = f"{user.last_login_at:%Y-%m-%d %H:%M} UTC" if user.last_login_at else "never"
            click.echo(f"{user.id:>4}  {user.email:<40} {user.role:<10} {state:<9} last sign-in {last}")


@users.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Stop EMAIL signing in; her open sessions end at their next request."""
    from gateway.store import users as accounts

    _change(email, accounts.disable, "user.disable")
    click.echo(f"{email.strip().lower()} is disabled; her open sessions have ended")


@users.command("enable")
@click.argument("email")
def enable_command(email: str) -> None:
    """Let a disabled account sign in again."""
    from gateway.store import users as accounts

    _change(email, lambda db, user: accounts.enable(user), "user.enable")
    click.echo(f"{email.strip().lower()} may sign in again")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(list(ROLES)))
def set_role_command(email: str, role: str) -> None:
    """Give EMAIL another role; her open sessions end, so it applies at once."""
    from gateway.store import users as accounts

    _change(email, lambda db, user: accounts.set_role(db, user, role), "user.role", f"role {role}")
    click.echo(f"{email.strip().lower()} is now {role}; her open sessions have ended")


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input (for scripts).")
def reset_password_command(email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL (asked twice unless --password-stdin); her open
    sessions end."""
    from gateway.store import users as accounts

    password = _read_password(password_stdin)
    _change(email, lambda db, user: accounts.set_password(user, password), "user.password", "reset at the terminal")
    click.echo(f"{email.strip().lower()} has a new password; her open sessions have ended")
