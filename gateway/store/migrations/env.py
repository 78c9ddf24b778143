"""Alembic environment: runs against the engine the gateway hands it."""

from alembic import context
from sqlalchemy import text

from gateway.store.models import Base

# Several hosts may migrate at once (each web host's unit runs `outreach migrate`). On
# PostgreSQL the first takes this lock for its transaction and the others wait for
# it, then find nothing left to do. Any constant: it only has to be every host's.
MIGRATION_LOCK = 4_201_728_028

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    context.run_migrations()
