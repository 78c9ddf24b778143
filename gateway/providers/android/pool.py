"""The phones a gateway sends through, each at its own pace, shared by every worker.

Android itself refuses more than about 30 SMS a minute from one app, and operators
grow suspicious of a SIM that sends in bursts, so each phone gets a budget of
``ANDROID_RATE`` texts a minute (20 by default). The budget is a sliding window in
Redis (one sorted set of send times per phone), so two workers never together push
a phone past it. A broadcast waits for the next free slot on any phone, taking
phones in turn; a conversational reply never waits while any phone has room under
the hard limit, and comes first.

A phone that stops answering, or answers with a limit error, leaves the rotation
for a while (30 s, doubling to 10 min) and comes back by itself; ``status`` says
which phones are in and why the others are out, for ``/healthz`` and
``outreach phones``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis import Redis

WINDOW_S = 60
HARD_LIMIT = 29  # per phone and minute: Android refuses a little more than this
FIRST_REST_S, LONGEST_REST_S = 30, 600

# Take a slot on a phone if it has one: drop sends older than the window, count the
# rest, add this one if under the limit. Returns 0 when taken, else the seconds until
# the oldest send leaves the window.
_TAKE = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
local used = redis.call('zcard', KEYS[1])
if used < limit then
  redis.call('zadd', KEYS[1], now, ARGV[4])
  redis.call('expire', KEYS[1], math.ceil(window) + 5)
  return '0'
end
local oldest = redis.call('zrange', KEYS[1], 0, 0, 'withscores')
return tostring(oldest[2] + window - now)
"""


@dataclass(frozen=True)
class Phone:
    """One Android phone: its own local server (``url``), or a device of a shared
    private or cloud server (``device_id``, at ANDROID_API_URL)."""

    name: str
    url: str
    device_id: str | None = None


@dataclass(frozen=True)
class Slot:
    """One send's place in a phone's window, until the send is over."""

    phone: Phone
    token: str


@dataclass(frozen=True)
class PhoneStatus:
    phone: Phone
    in_rotation: bool
    sent_last_minute: int
    reason: str | None


def phones_from(api_url: str, listed: str) -> list[Phone]:
    """ANDROID_PHONES: comma-separated device ids (one server at ANDROID_API_URL)
    or local-server URLs of their own; empty means the one phone at ANDROID_API_URL."""
    phones = []
    for entry in (part.strip() for part in listed.split(",")):
        if not entry:
            continue
        if entry.startswith(("http://", "https://")):
            phones.append(Phone(entry.split("://", 1)[1].rstrip("/"), entry.rstrip("/")))
        else:
            phones.append(Phone(entry, api_url.rstrip("/"), entry))
    return phones or [Phone("phone", api_url.rstrip("/"))]


class PhonePool:
    def __init__(self, redis: Redis, phones: list[Phone], per_minute: int, window_s: int = WINDOW_S):
        # ``window_s`` is a minute except in the benchmark, which scales time down.
        self.redis, self.phones, self.per_minute, self.window_s = redis, phones, per_minute, window_s
        self._take = redis.register_script(_TAKE)

    def done(self, slot: Slot, reached_phone: bool = True) -> None:
        """The send is over. Its time in the window becomes now, not when the slot was
        taken: the phone counts the text from its arrival, which is between the two,
        so counting from the end can never let a phone see more than its rate.
        A request that never reached the phone gives its slot back."""
        key = self._sent_key(slot.phone)
        if reached_phone:
            self.redis.zadd(key, {slot.token: time.time()}, xx=True)
        else:
            self.redis.zrem(key, slot.token)

    def acquire(self, urgent: bool = False, wait_s: float = 0.0, clock=time.time, sleep=time.sleep) -> Slot | None:
        """A phone that may send one text now, its slot taken; None if none frees
        within ``wait_s`` (or every phone is out of the rotation). An urgent text (a
        reply) may use a phone's room up to the hard limit; bulk keeps to the rate.
        Call ``done`` with the slot when the request is over."""
        limit = HARD_LIMIT if urgent else self.per_minute
        deadline = clock() + wait_s
        while True:
            soonest = None
            for phone in self._in_turn():
                now, token = clock(), uuid.uuid4().hex
                wait = float(self._take(keys=[self._sent_key(phone)], args=[now, self.window_s, limit, token]))
                if wait <= 0:
                    return Slot(phone, token)
                soonest = wait if soonest is None else min(soonest, wait)
            if soonest is None or clock() + soonest > deadline:
                return None
            sleep(max(soonest, 0.01))

    def rest(self, phone: Phone, reason: str) -> None:
        """Take ``phone`` out of the rotation for a while (longer each time in a row)."""
        strikes = self.redis.incr(f"android:strikes:{phone.name}")
        self.redis.expire(f"android:strikes:{phone.name}", LONGEST_REST_S * 2)
        seconds = min(FIRST_REST_S * 2 ** (strikes - 1), LONGEST_REST_S)
        self.redis.set(f"android:out:{phone.name}", reason[:200], ex=int(seconds))

    def answered(self, phone: Phone) -> None:
        """It answered: back in the rotation, and its strikes forgotten."""
        if self.redis.exists(f"android:strikes:{phone.name}", f"android:out:{phone.name}"):
            self.redis.delete(f"android:strikes:{phone.name}", f"android:out:{phone.name}")

    def status(self) -> list[PhoneStatus]:
        now = time.time()
        found = []
        for phone in self.phones:
            out = self.redis.get(f"android:out:{phone.name}")
            sent = self.redis.zcount(self._sent_key(phone), now - self.window_s, "+inf")
            found.append(PhoneStatus(phone, out is None, int(sent), out.decode("utf-8", "replace") if out else None))
        return found

    def _in_turn(self) -> list[Phone]:
        """The phones in the rotation, starting after the one used last (round robin)."""
        start = self.redis.incr("android:turn") % len(self.phones)
        ordered = self.phones[start:] + self.phones[:start]
        out = self.redis.mget([f"android:out:{p.name}" for p in ordered])
        return [phone for phone, resting in zip(ordered, out) if resting is None]

    @staticmethod
    def _sent_key(phone: Phone) -> str:
        return f"android:sent:{phone.name}"
