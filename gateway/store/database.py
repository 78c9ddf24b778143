"""Connection to the database, and its schema migrations (Alembic)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
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
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
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
        """Apply every pending migration (``outreach up`` does this at start)."""
        from alembic import command

        command.upgrade(self.alembic_config(), "head")

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



class DriverInsert:
    """One INSERT, compiled once, run straight on a pooled driver connection.

    For the hottest write there is (the inbox's, once per inbound text),
    SQLAlchemy's per-statement machinery (a Connection, a transaction object,
    looking up the cached compile, a result) cost more than the driver's own work:
    about 440,000 instructions an insert against 185,000 this way. What
    SQLAlchemy does for correctness is kept: values go through their columns'
    own bind processors (``UTCDateTime`` turns an aware time into naive UTC, and
    SQLite's ``DateTime`` into text), a driver error is raised as SQLAlchemy's
    (so ``is_outage`` reads it the same), and the connection that raised it is
    not returned to the pool, in case the server dropped it. The statement
    commits on its own: on an autocommit engine the commit is a no-op."""

    def __init__(self, engine: Engine, statement, columns: Iterable[str]):
        dialect, columns = engine.dialect, list(columns)
        # inline(): no RETURNING of the new id, which nothing here reads.
        compiled = statement.values({name: bindparam(name) for name in columns}).inline().compile(dialect=dialect)
        self.engine, self.sql = engine, compiled.string
        self.order = list(compiled.positiontup) if compiled.positional else None
        self.processors = [(name, statement.table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                           for name in columns]

    def __call__(self, values: dict[str, Any]) -> None:
        params: Any = {name: process(values[name]) if process else values[name]
                       for name, process in self.processors}
        if self.order is not None:
            params = tuple(params[name] for name in self.order)
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        connection = None
        try:
            connection = self.engine.raw_connection()  # connecting can fail too: a server that is down
            cursor = connection.cursor()
            cursor.execute(self.sql, params)
            cursor.close()
            connection.commit()
        except dbapi_error as exc:
            if connection is not None:
                connection.invalidate()
            raise DBAPIError.instance(self.sql, None, exc, dbapi_error, hide_parameters=True,
                                      dialect=self.engine.dialect) from None
        finally:
            if connection is not None:
                connection.close()
