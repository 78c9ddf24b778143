"""The content a process runs: the published version, live, and the versions its
open conversations started on.

Every web process and worker keeps built editions in memory, and asks Redis for
the published version's number at most once a second (``CHECK_EVERY_S``): a hop
between checks costs one clock read. Publishing commits the new version and then
sets that number, so every process on every host moves to it within a second or
two, without a restart. The number is kept in Redis for ``ANNOUNCE_TTL_S`` only,
then read again from the database: a publish whose Redis write was lost still
spreads, only later.

A conversation keeps the number of the edition it started on (``State.edition``)
and finishes on it, so nobody sees half-old, half-new screens. The last few
editions stay built in memory; an older one is loaded again from the database.

On a new install the repository's ``flows/`` and ``prompts/`` become version 1.
After an upgrade whose shipped content changed, an install that never edited its
content gets the new content published; one that did is offered it as a draft,
never overwritten (``outreach content history``, the dashboard's Content page).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Callable, Mapping

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from gateway.content.edition import Edition, digest
from gateway.errors import ContentError
from gateway.store import content
from gateway.store.database import Database

log = logging.getLogger(__name__)

KEY = "content:published"
PREVIEW = "content:preview:"  # + an organiser's test number: the draft her simulator runs
PREVIEW_TTL_S = 2 * 3600
CHECK_EVERY_S = 1.0
ANNOUNCE_TTL_S = 300
KEEP = 4  # editions kept built: the published one and those a few sessions may still be on
SHIPPED_BY = "outreach (shipped)"


class Library:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        shipped: Callable[[], Mapping[str, str]],
        timezone: str,
        check_every: float = CHECK_EVERY_S,
    ):
        self.db, self.redis, self.shipped, self.timezone = db, redis, shipped, timezone
        self.check_every = check_every
        self._editions: OrderedDict[int, Edition] = OrderedDict()
        self._current: Edition | None = None
        self._checked = float("-inf")
        self._offered = False

    # ------------------------------------------------------------------ reading

    def current(self) -> Edition:
        """The published edition (as of at most ``check_every`` seconds ago)."""
        now = time.monotonic()
        if self._current is not None and now - self._checked < self.check_every:
            return self._current
        self._checked = now
        number = self._announced()
        if self._current is None or number != self._current.number:
            try:
                edition = self._load(number) if number is not None else None
                if edition is None:  # the number names no version here (a database reset)
                    edition = self._load(self._published_in_database())
                    self.announce(edition.number)
            except ContentError:
                # A version this release cannot build (published under an older one
                # with looser checks): members keep what this process runs, or the
                # shipped content, and the log says which version to fix or revert.
                log.exception(
                    "content version %s cannot be built; still serving %s",
                    number,
                    self._current.number if self._current else "the shipped content",
                )
                edition = self._current or Edition.build(0, self.shipped(), self.timezone)
            self._current = edition
        return self._current

    def edition(self, number: int | None) -> Edition:
        """Edition ``number``, for a conversation that started on it; the current
        one for a conversation from before versions (0) or a version that is gone."""
        if not number:
            return self.current()
        found = self._editions.get(number)
        if found is not None:
            self._editions.move_to_end(number)
            return found
        return self._load(number) or self.current()

    def prepare(self) -> None:
        """Build the published edition now, as a process starts (on a new install,
        make the shipped content version 1), so that no hop waits for it. A database
        not migrated yet is left for the first hop."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        self.forget()
        try:
            self.current()
        except (OperationalError, ProgrammingError) as exc:
            log.info("content not loaded yet (%s)", type(exc).__name__)

    def preview(self, phone: str) -> Edition | None:
        """The draft an organiser previews on her test number ``phone``, if any (only
        test numbers are asked: a member's dial never reads this key)."""
        try:
            number = self.redis.get(PREVIEW + phone)
        except RedisError:
            return None
        return self._load(int(number)) if number else None

    def previewing(self, phone: str) -> int | None:
        """The draft test number ``phone`` runs, if any."""
        number = self.redis.get(PREVIEW + phone)
        return int(number) if number else None

    def show_preview(self, phone: str, number: int | None) -> None:
        """Run draft ``number`` for test number ``phone`` from her next dial (None: stop)."""
        if number is None:
            self.redis.delete(PREVIEW + phone)
        else:
            self.redis.set(PREVIEW + phone, number, ex=PREVIEW_TTL_S)

    def forget(self) -> None:
        """Check the published number on the next use (after a publish in this process)."""
        self._checked = float("-inf")

    # ------------------------------------------------------------------ writing

    def announce(self, number: int) -> None:
        """Tell every process that ``number`` is published (after it is committed)."""
        try:
            self.redis.set(KEY, number, ex=ANNOUNCE_TTL_S)
        except RedisError:
            log.warning("could not announce content version %s; processes find it within %s s", number, ANNOUNCE_TTL_S)
        self.forget()

    def ensure(self) -> int:
        """The published version's number, making the shipped content version 1 on a
        new install, and offering an upgrade's shipped content once per release."""
        docs = dict(self.shipped())
        shipped_digest = digest(docs)
        try:
            with self.db.session() as db:
                published = content.published(db)
                if published is None:
                    row = content.add(
                        db, docs, "shipped", SHIPPED_BY, "the content this release ships", shipped_digest=shipped_digest
                    )
                    return content.publish(db, row.id).id
                self._offer(db, published.id, docs, shipped_digest)
                return published.id
        except IntegrityError:  # another process did the same at the same moment
            with self.db.session() as db:
                number = content.published_number(db)
            if number is None:
                raise
            return number

    # ------------------------------------------------------------------ inside

    def _offer(self, db, published: int, docs: dict, shipped_digest: str) -> None:
        previous = content.shipped_versions(db)
        if previous and previous[0].shipped_digest == shipped_digest:
            return  # this release's content is known here already
        untouched = previous and content.documents(db, published) == content.documents(db, previous[0].id)
        if untouched:
            row = content.add(
                db,
                docs,
                "shipped",
                SHIPPED_BY,
                "the content of this release (published: this install had not edited its content)",
                based_on=published,
                shipped_digest=shipped_digest,
            )
            content.publish(db, row.id)
            log.info("content: this release's content is published as version %s", row.id)
        else:
            row = content.add(
                db,
                docs,
                "shipped",
                SHIPPED_BY,
                "the content of this release, offered: your edits stay published until you publish this",
                based_on=published,
                shipped_digest=shipped_digest,
            )
            log.warning(
                "content: this release changed the shipped content; it is offered as draft "
                "version %s (see `outreach content diff %s`)",
                row.id,
                row.id,
            )

    def _announced(self) -> int | None:
        try:
            raw = self.redis.get(KEY)
        except RedisError:
            # Redis is down: keep what this process runs (every channel that needs
            # Redis is failing anyway), or find out from the database.
            return self._current.number if self._current is not None else self._published_in_database()
        if raw is not None:
            return int(raw)
        number = self._published_in_database()
        try:
            self.redis.set(KEY, number, ex=ANNOUNCE_TTL_S, nx=True)
        except RedisError:
            pass
        return number

    def _published_in_database(self) -> int:
        if not self._offered:  # once per process: an upgrade's content is offered as it starts
            self._offered = True
            return self.ensure()
        with self.db.session() as db:
            number = content.published_number(db)
        return number if number is not None else self.ensure()

    def _load(self, number: int) -> Edition | None:
        found = self._editions.get(number)
        if found is not None:
            return found
        with self.db.session() as db:
            docs = content.documents(db, number)
        if not docs:
            return None
        edition = Edition.build(number, docs, self.timezone)
        self._editions[number] = edition
        while len(self._editions) > KEEP:
            self._editions.popitem(last=False)
        return edition
