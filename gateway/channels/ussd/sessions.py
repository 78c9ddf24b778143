"""USSD session records in Redis: one per telco session, plus a resume slot per phone.

A record holds the full ``text`` of the last hop and the reply sent, so a
retransmitted hop gets the same reply without running anything again. Keys hold
no phone numbers: per-phone keys use ``gateway.phone.phone_key``.

Each hop costs two round trips: one pipeline to lock the session, count the hop
for rate limiting and read the record; one to write the record and unlock.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

LOCK_MS = 5000


@dataclass
class UssdRecord:
    last_text: str = ""
    last_hop: str = ""  # the aggregator's id of the last hop, where it sends one
    reply: str = ""
    mode: str = "flow"  # flow | resume_offer
    language: str = "lo"
    state: dict | None = None
    pages: list[str] = field(default_factory=list)
    page: int = 0
    seen: int = 0  # the furthest page she has been shown: options beyond it do not count yet
    expects: str = "choice"  # what the screen asks for (see gateway.engine.events.Screen)
    final: bool = False
    offered: dict | None = None  # the saved state a resume offer would restore
    tries: int = 0  # wrong keys on a resume offer

    def dumps(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: bytes | str) -> "UssdRecord":
        return cls(**json.loads(raw))


@dataclass
class Opened:
    record: UssdRecord | None
    locked: bool
    token: str
    hops_this_minute: int


class UssdSessions:
    def __init__(self, redis: Redis, session_ttl: int, resume_ttl: int):
        self.redis = redis
        self.session_ttl = session_ttl
        self.resume_ttl = resume_ttl
        # Called by SHA inside pipelines: a registered Script would make redis-py send
        # SCRIPT EXISTS first, one more round trip on every hop. Loaded on first use,
        # so the app starts (and /healthz can say so) while Redis is down.
        self._release_sha: str | None = None

    @staticmethod
    def session_key(session_id: str) -> str:
        # Hashed: the id comes from outside and may be long or odd.
        return "ussd:s:" + hashlib.sha1(session_id.encode("utf-8", "replace")).hexdigest()

    def open(self, session_id: str, phone_key: str) -> Opened:
        """Try to lock the session, count the hop, and read the record, in one trip."""
        key, token = self.session_key(session_id), uuid.uuid4().hex
        rate_key = f"ussd:rate:{phone_key}:{int(time.time() // 60)}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(key + ":lock", token, nx=True, px=LOCK_MS)
        pipe.get(key)
        pipe.incr(rate_key)
        locked, raw, hops = pipe.execute()
        if hops == 1:  # first hop this minute: the counter must not outlive it
            self.redis.expire(rate_key, 120)
        record = UssdRecord.loads(raw) if raw else None
        return Opened(record, bool(locked), token, int(hops))

    def save(self, session_id: str, record: UssdRecord, token: str,
             phone_key: str | None = None, resume: dict[str, Any] | None = None,
             forget_resume: bool = False) -> None:
        """Write the record (and the phone's resume slot), then unlock, in one trip."""
        key = self.session_key(session_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(key, record.dumps(), ex=self.session_ttl)
        if phone_key and resume is not None:
            pipe.set(f"ussd:resume:{phone_key}", json.dumps(resume, ensure_ascii=False),
                     ex=self.resume_ttl)
        elif phone_key and forget_resume:
            pipe.delete(f"ussd:resume:{phone_key}")
        pipe.evalsha(self._release_script(), 1, key + ":lock", token)
        try:
            pipe.execute()
        except NoScriptError:  # Redis restarted and forgot the script: load it, unlock
            self._release_sha = self.redis.script_load(_RELEASE)
            self.unlock(session_id, token)

    def _release_script(self) -> str:
        if self._release_sha is None:
            self._release_sha = self.redis.script_load(_RELEASE)
        return self._release_sha

    def unlock(self, session_id: str, token: str) -> None:
        lock = self.session_key(session_id) + ":lock"
        try:
            self.redis.evalsha(self._release_script(), 1, lock, token)
        except NoScriptError:
            self._release_sha = self.redis.script_load(_RELEASE)
            self.redis.evalsha(self._release_sha, 1, lock, token)

    def resume_slot(self, phone_key: str) -> dict | None:
        raw = self.redis.get(f"ussd:resume:{phone_key}")
        return json.loads(raw) if raw else None
