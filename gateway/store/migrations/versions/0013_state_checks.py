"""every row state kept to its words by a CHECK constraint

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:00:00

On PostgreSQL each constraint is added NOT VALID and then validated: the check of
the rows already there takes no lock that stops webhooks or workers writing, so
hosts still on the previous release go on working while it runs. SQLite copies the
table (its only way to add a constraint), and its partial index comes back with it.
"""
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# The words as this release has them (gateway/store/states.py); a release that adds a
# state replaces its table's constraint in a migration of its own.
TABLES = {
    "outbound_messages": ("queued", "sending", "sent", "delivered", "failed", "unknown", "waiting", "cancelled"),
    "broadcasts": ("draft", "sending", "done", "cancelled"),
    "reminders": ("scheduled", "firing", "sent", "cancelled", "missed"),
    "content_versions": ("draft", "published", "past"),
}


def _check(words: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{word}'" for word in words) + ")"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, words in TABLES.items():
        name = f"ck_{table}_status"
        if postgres:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({_check(words)}) NOT VALID")
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
        else:
            with op.batch_alter_table(table) as batch:
                batch.create_check_constraint(name, _check(words))
    if not postgres:  # the table copy keeps the index, not its WHERE: made again as it was
        op.execute("DROP INDEX IF EXISTS one_published_version")
        op.execute("CREATE UNIQUE INDEX one_published_version ON content_versions (status) "
                   "WHERE status = 'published'")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        name = f"ck_{table}_status"
        if postgres:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        else:
            with op.batch_alter_table(table) as batch:
                batch.drop_constraint(name, type_="check")
