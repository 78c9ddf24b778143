"""Telling an outage from a bug."""

from __future__ import annotations


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database or Redis is unreachable (work to keep and
    retry later), rather than that the work itself is bad (a bug, to log)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    return isinstance(
        exc,
        (
            OperationalError,
            InterfaceError,
            DisconnectionError,
            PoolTimeoutError,
            RedisConnectionError,
            RedisTimeoutError,
            ConnectionError,
        ),
    )
