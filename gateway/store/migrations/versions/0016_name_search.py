"""members found by part of a name or organisation, fast at a million members:
trigram indexes (PostgreSQL's pg_trgm)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:00:00

The members page searches ``lower(name)`` and ``lower(organisation)`` with
``LIKE '%words%'``, which no ordinary index serves: at 1,000,000 members a search
read the whole table (about 0.9 s). A GIN trigram index serves it.

pg_trgm is a trusted extension (PostgreSQL 13 and later): the database's owner may
create it. Where it cannot be created (a managed service without it), the
migration goes on without the indexes, and says so: search works, slower.

Building the indexes holds writes to ``members`` for the time it takes (seconds
at a million members; nothing on a new install): hosts on the previous release
wait, they do not fail. SQLite: nothing to do (one host, small networks).
"""
import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning("pg_trgm cannot be created here (%s): member search works, without its index",
                    type(exc.orig).__name__)
        return
    for column in ("name", "organisation"):
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_members_{column}_trigrams "
            f"ON members USING gin (lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in ("name", "organisation"):
        op.execute(f"DROP INDEX IF EXISTS ix_members_{column}_trigrams")
