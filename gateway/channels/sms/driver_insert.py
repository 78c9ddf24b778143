"""The inbox's one INSERT, straight on the driver: the webhook's only statement, on every
inbound text, kept beside its one caller (``inbox.py``) with its measured reason."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError


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
        self.processors = [
            (name, statement.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in columns
        ]

    def __call__(self, values: dict[str, Any]) -> None:
        params: Any = {name: process(values[name]) if process else values[name] for name, process in self.processors}
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
            raise DBAPIError.instance(
                self.sql, None, exc, dbapi_error, hide_parameters=True, dialect=self.engine.dialect
            ) from None
        finally:
            if connection is not None:
                connection.close()
