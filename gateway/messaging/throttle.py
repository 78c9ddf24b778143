"""A provider's throughput limit, in SMS segments per second, shared by every worker.

Providers limit segments, not messages (a Lao reminder of 150 characters is three).
Each second has a Redis counter; bulk sends wait for the next second when it is
full, conversational replies are counted but never wait, so bulk yields to them.
"""

from __future__ import annotations

import time

from redis import Redis


class Throttle:
    def __init__(self, redis: Redis, provider: str, per_second: int):
        self.redis, self.provider, self.per_second = redis, provider, per_second

    @property
    def limited(self) -> bool:
        return self.per_second > 0

    def largest_batch(self, segments_each: int, wanted: int) -> int:
        """How many recipients of a ``segments_each`` text fit in one second."""
        if not self.limited:
            return wanted
        return max(1, min(wanted, self.per_second // max(segments_each, 1)))

    def take(self, segments: int, wait: bool = True) -> float:
        """Count ``segments`` against this second; return seconds waited."""
        if not self.limited or segments <= 0:
            return 0.0
        waited = 0.0
        while True:
            now = time.time()
            key = f"throttle:{self.provider}:{int(now)}"
            pipe = self.redis.pipeline(transaction=False)
            pipe.incrby(key, segments)
            pipe.expire(key, 3)
            used, _ = pipe.execute()
            # An empty second always admits one batch, however large, so nothing starves.
            if not wait or used <= self.per_second or used == segments:
                return waited
            self.redis.decrby(key, segments)
            pause = int(now) + 1 - now
            time.sleep(pause)
            waited += pause
