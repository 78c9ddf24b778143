"""Connection to the database, and its schema migrations (Alembic)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web workers read while one writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # What is deleted or overwritten (an erased member's name and number) is zeroed
    # in the file, not left in a free page for anyone who copies it.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def upsert_dialect(name: str):
    """The dialect module whose ``insert`` has ``on_conflict_do_*`` (both we run on do)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql if name == "postgresql" else sqlite


class Database:
    def __init__(self, url: str, autocommit: bool = False):
        """``autocommit``: every statement commits by itself, and connections are not
        pinged before use (the inbox's webhook side: one INSERT per request, where a
        ping and a BEGIN would be two more round trips; a connection the server
        dropped fails that one insert as an outage, and the text is spooled)."""
        self.url = url
        if url.startswith("postgresql://"):  # use psycopg 3, the driver we depend on
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        # hide_parameters: SQL errors would otherwise quote phone numbers into logs.
        # A server can drop idle connections, so they are pinged before use; a SQLite
        # file cannot, and the ping would be one more statement on every request.
        options = {"pool_pre_ping": not url.startswith("sqlite") and not autocommit, "hide_parameters": True}
        if autocommit:
            options["isolation_level"] = "AUTOCOMMIT"
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, **options)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        The transaction begins with the first statement (SQLAlchemy's autobegin), so
        a session nothing used commits nothing: most USSD hops open one and never
        touch the database, and the commit was two thirds of an empty session's
        cost."""
        with self.sessions() as session:
            yield session
            # As ``session.begin()`` did: a transaction a failed flush deactivated (and
            # the caller caught) is discarded as the session closes, not committed.
            transaction = session.get_transaction()
            if transaction is not None and transaction.is_active:
                session.commit()

    def ping(self) -> bool:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True

    def alembic_config(self):
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self) -> None:
        """Apply every pending migration (``outreach up`` does this at start). Two
        processes migrating at once take turns: PostgreSQL's advisory lock (in the
        migrations' ``env.py``), or on SQLite a lock on a file beside the database."""
        from alembic import command

        with self._sqlite_migration_lock():
            command.upgrade(self.alembic_config(), "head")

    @contextmanager
    def _sqlite_migration_lock(self) -> Iterator[None]:
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        import fcntl

        with open(f"{database}.migrating", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if we die
            yield

    def dispose(self) -> None:
        self.engine.dispose()

    def checkpoint(self) -> None:
        """On SQLite, move the write-ahead log into the database file and empty it:
        after an erasure the log still holds the erased name and number until the next
        automatic checkpoint. Nothing to do on a server database."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
