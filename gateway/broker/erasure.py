"""Erasing a member from Redis."""

from __future__ import annotations

from redis import Redis


def forget(redis: Redis, *needles: str) -> int:
    """Delete every key whose name, or whose string value, contains one of
    ``needles`` (a member's phone key, her name): her conversation state, her USSD
    session and resume slot, rate counters. Returns how many keys went. Redis
    holds little and briefly, so one SCAN of it is affordable for an erasure."""
    wanted = [needle.encode() for needle in needles if needle]
    gone = 0
    for key in redis.scan_iter(count=1000):
        doomed = any(needle in key for needle in wanted)
        if not doomed and redis.type(key) == b"string":
            value = redis.get(key) or b""
            doomed = any(needle in value for needle in wanted)
        if doomed:
            gone += redis.delete(key)
    return gone


def forget_member(redis: Redis, phone_key: str, member_id: int) -> int:
    """Erase a member from Redis: keys named by her phone key, and the records that
    carry it (her USSD session, her call in progress), and her pending call-back.
    Found by her key and id, never by her name: a name is escaped differently in
    each record, and a short one would match other people's."""
    return forget(redis, phone_key, f"voice:callback:{member_id}")
