"""the inbox rings every drainer, on any host: NOTIFY inbox as each insert commits

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00

PostgreSQL only: a statement trigger on ``inbox`` sends ``NOTIFY inbox``, which
drainers ``LISTEN`` for (``channels/sms/doorbell.py``), so a webhook on one host
wakes a drainer on another with no round trip of its own. SQLite's inbox is a
file on its one host, rung through a pipe; nothing to do there.
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION inbox_ring() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('inbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER inbox_rings AFTER INSERT ON inbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION inbox_ring()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS inbox_rings ON inbox")
    op.execute("DROP FUNCTION IF EXISTS inbox_ring()")
