"""The deployment's shared secrets, kept in the database.

Every host of a deployment must key the same things the same way: the dashboard's
sign-in cookie, members' per-number keys in Redis (USSD resume, rate limits, calls,
erasure) and Africa's Talking's webhook token. A secret set in the environment
(``SECRET_KEY``, ``AT_WEBHOOK_TOKEN``) is used as it is; one left unset is made here
once, by the first host that asks, and read by every other. The primary key settles
two hosts asking at the same moment: one insert wins, both read the winner.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from gateway.errors import ConfigError
from gateway.store.database import Database, upsert_dialect
from gateway.store.models import DeploymentSecret, utcnow

# name -> how a new one is made; the webhook token goes in URLs, so URL-safe.
MAKERS = {"secret_key": lambda: secrets.token_hex(32), "webhook_token": lambda: secrets.token_urlsafe(32)}


VARIABLES = {"secret_key": "SECRET_KEY", "webhook_token": "AT_WEBHOOK_TOKEN"}


def shared(db: Database, name: str, legacy: Path | None = None) -> str:
    """The deployment's secret ``name``, made now if no host has made it. An install
    from before secrets were shared kept it in ``instance/<name>``: that one is
    adopted, so sign-ins and members' keys outlive the upgrade."""
    query = select(DeploymentSecret.value).where(DeploymentSecret.name == name)
    try:
        with db.engine.begin() as connection:
            found = connection.scalar(query)
            if found is None:
                insert = upsert_dialect(db.engine.dialect.name).insert(DeploymentSecret)
                made = _legacy(legacy) or MAKERS[name]()
                connection.execute(
                    insert.values(name=name, value=made, created_at=utcnow()).on_conflict_do_nothing(
                        index_elements=["name"]
                    )
                )
                found = connection.scalar(query)
            return found
    except (OperationalError, ProgrammingError) as exc:
        if "deployment_secrets" not in str(exc):
            raise
        raise ConfigError(
            VARIABLES[name], "the database has no table for it yet; run `outreach migrate` first"
        ) from None


def rotate(db: Database, name: str) -> None:
    """Replace the deployment's secret ``name`` by a new one. Each process reads it
    as it starts, so it takes effect as each host restarts."""
    shared(db, name)  # made first if no host ever asked for it
    with db.engine.begin() as connection:
        connection.execute(
            update(DeploymentSecret)
            .where(DeploymentSecret.name == name)
            .values(value=MAKERS[name](), created_at=utcnow())
        )


def with_shared_secrets(settings, db: Database):
    """``settings`` (a ``Config``; the store imports no configuration) with
    ``SECRET_KEY`` and ``AT_WEBHOOK_TOKEN`` from the environment, or else the
    deployment's own from the database: never one of this host's."""
    filled = {
        field: shared(db, name, settings.instance_path / name)
        for field, name in (("secret_key", "secret_key"), ("at_webhook_token", "webhook_token"))
        if not getattr(settings, field)
    }
    return replace(settings, **filled) if filled else settings


def _legacy(path: Path | None) -> str | None:
    try:
        return (path.read_text().strip() or None) if path is not None else None
    except OSError:
        return None
