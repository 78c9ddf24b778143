"""USSD session records in Redis: one per telco session, plus a resume slot per phone.

A record holds the full ``text`` of the last hop and the reply sent, so a
retransmitted hop gets the same reply without running anything again. Keys hold
no phone numbers: per-phone keys use ``gateway.phone.phone_key``.

Each hop costs two round trips, each one Lua script: ``open`` locks the session,
counts the hop for rate limiting and reads the record (and, for a new session,
the phone's resume slot); ``save`` writes the record and the resume slot and
unlocks. One script instead of a pipeline of commands because the hop's cost is
mostly per command, in redis-py and in the server. Both run on a ``ScriptLine``
where the URL allows (not TLS): redis-py's own per-command work was four times
the two system calls a script needs (see ``scriptline`` for the measurement).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from gateway.channels.ussd.scriptline import Script, ScriptLine

# KEYS: session record, its lock, the phone's hop counter this minute, her resume slot.
# ARGV: lock token, lock lifetime (ms). The resume slot is read only when there is
# no record yet: only a new session can be offered to go on where she left off.
_OPEN = Script("""
local locked = redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
local record = redis.call('get', KEYS[1])
local hops = redis.call('incr', KEYS[3])
if hops == 1 then redis.call('expire', KEYS[3], 120) end
local resume = false
if not record then resume = redis.call('get', KEYS[4]) end
return {locked and 1 or 0, record, hops, resume}
""")

# KEYS: session record, its lock, the phone's resume slot.
# ARGV: record, its ttl, lock token, keep|forget|leave, resume state, its ttl.
_SAVE = Script("""
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[4] == 'keep' then redis.call('set', KEYS[3], ARGV[5], 'EX', ARGV[6])
elseif ARGV[4] == 'forget' then redis.call('del', KEYS[3]) end
if redis.call('get', KEYS[2]) == ARGV[3] then redis.call('del', KEYS[2]) end
return 1
""")

_RELEASE = Script("""
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
""")

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
    who: str = ""  # her phone key: what an erasure finds the session by

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
    resume: dict | None = None  # the phone's resume slot, read only for a new session


class UssdSessions:
    def __init__(self, redis: Redis, session_ttl: int, resume_ttl: int, line: ScriptLine | None = None):
        self.redis = redis
        self.session_ttl = session_ttl
        self.resume_ttl = resume_ttl
        self.line = line
        # Without a line (TLS), redis-py's Script: it too calls EVALSHA and sends the
        # body only when Redis does not know it, so no extra round trip either way.
        self._registered = (
            {}
            if line is not None
            else {script: redis.register_script(script.body) for script in (_OPEN, _SAVE, _RELEASE)}
        )

    def _run(self, script: Script, keys: list[str], args: list):
        if self.line is not None:
            return self.line.run(script, keys, args)
        return self._registered[script](keys=keys, args=args)

    @staticmethod
    def session_key(session_id: str) -> str:
        # Hashed: the id comes from outside and may be long or odd.
        return "ussd:s:" + hashlib.sha1(session_id.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()

    @staticmethod
    def _resume_key(phone_key: str) -> str:
        return f"ussd:resume:{phone_key}"

    def open(self, session_id: str, phone_key: str) -> Opened:
        """Try to lock the session, count the hop, and read the record, in one trip."""
        key, token = self.session_key(session_id), uuid.uuid4().hex
        rate_key = f"ussd:rate:{phone_key}:{int(time.time() // 60)}"
        locked, raw, hops, resume = self._run(
            _OPEN, [key, key + ":lock", rate_key, self._resume_key(phone_key)], [token, LOCK_MS]
        )
        return Opened(_decoded(raw, UssdRecord.loads), bool(locked), token, int(hops), _decoded(resume, json.loads))

    def save(
        self,
        session_id: str,
        record: UssdRecord,
        token: str,
        phone_key: str | None = None,
        resume: dict[str, Any] | None = None,
        forget_resume: bool = False,
    ) -> None:
        """Write the record (and the phone's resume slot), then unlock, in one trip."""
        key = self.session_key(session_id)
        slot = "leave"
        if phone_key and resume is not None:
            slot = "keep"
        elif phone_key and forget_resume:
            slot = "forget"
        self._run(
            _SAVE,
            [key, key + ":lock", self._resume_key(phone_key or "-")],
            [
                record.dumps(),
                self.session_ttl,
                token,
                slot,
                json.dumps(resume, ensure_ascii=False) if slot == "keep" else "",
                self.resume_ttl,
            ],
        )

    def unlock(self, session_id: str, token: str) -> None:
        self._run(_RELEASE, [self.session_key(session_id) + ":lock"], [token])

    def resume_slot(self, phone_key: str) -> dict | None:
        return _decoded(self.redis.get(self._resume_key(phone_key)), json.loads)


def _decoded(raw: bytes | None, parse):
    """What ``parse`` makes of a stored value; None when there is none, or when it is
    unreadable: the session then starts afresh instead of failing on every hop
    while it holds the lock the script just took."""
    if not raw:
        return None
    try:
        return parse(raw)
    except (ValueError, TypeError):
        return None
