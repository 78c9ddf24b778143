"""Which drainer processes which member's texts, across hosts (PostgreSQL).

Several drainers (one per worker host) work on one ``inbox`` table at once. Each
member's texts must still be handled one at a time and in order, so a drainer
takes a member before it processes any of her texts: a session-level advisory
lock on a key made from her number, on a connection the drainer keeps. The keys of
a whole batch are tried in one round trip; a member another drainer holds is left
for it (or for the next turn). The locks go when the batch is done, or with the
connection if the drainer dies, so no member is stranded.

An erasure takes her lock and waits for it (``held``): no drainer is then inside
a batch of hers while her waiting texts are deleted and she is erased.

The key is a keyed hash of her E.164 number cut to 32 bits, so the lock table
never shows a number; two members sharing a key only take turns.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterable, Iterator

from sqlalchemy import text

from gateway.phone import phone_key, to_e164

# The first half of every key: the gateway's advisory locks on members' texts.
NAMESPACE = 7301
_CLAIM = text(
    "SELECT k FROM unnest(CAST(:keys AS integer[])) AS k WHERE pg_try_advisory_lock(:namespace, k)"
).bindparams(namespace=NAMESPACE)


def member_key(phone: str, secret: str) -> int:
    """Her ``phone_key`` (the keyed hash Redis and the tombstones use), cut to a lock's 32 bits."""
    return int.from_bytes(bytes.fromhex(phone_key(to_e164(phone) or phone, secret)[:8]), "big", signed=True)


class Claims:
    """A drainer's claims. For each batch, the thread that drains takes a connection
    of its own from the pool (the locks are a session's, and a session would grant a
    lock it holds a second time to another thread of the process, as the phone
    simulator and tests drain), and gives it back, with no lock, when the batch is
    done."""

    def __init__(self, engine, secret: str):
        self.engine, self.secret = engine, secret
        self._local = threading.local()

    def key(self, phone: str) -> int:
        return member_key(phone, self.secret)

    def take(self, keys: Iterable[int]) -> set[int]:
        """The members of ``keys`` now this drainer's; the rest are another's."""
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        try:
            return set(self._own().execute(_CLAIM, {"keys": wanted}).scalars())
        except Exception:
            self.close()  # a broken connection holds nothing any more
            raise

    def release(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock_all()"))
        except Exception:
            self.close()  # its locks went with it
            raise
        connection.close()  # back to the pool, holding nothing
        self._local.connection = None

    @contextmanager
    def held(self, phone: str) -> Iterator[None]:
        """Her texts, for as long as this lasts, waiting for a drainer busy with them."""
        with self.engine.connect() as connection:
            key = self.key(phone)
            connection.execute(text("SELECT pg_advisory_lock(:n, :k)"), {"n": NAMESPACE, "k": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:n, :k)"), {"n": NAMESPACE, "k": key})

    def _own(self):
        if getattr(self._local, "connection", None) is None:
            self._local.connection = self.engine.connect()
        return self._local.connection

    def close(self) -> None:
        """This thread's connection, and so its claims."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except Exception:  # nosec B110 - closing a connection already gone
                pass
            self._local.connection = None
