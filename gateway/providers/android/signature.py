"""How SMS Gateway for Android signs its webhooks, and how we check them.

Each webhook carries ``X-Timestamp`` (unix seconds) and ``X-Signature``: the hex
HMAC-SHA256, keyed with the app's signing key, of the raw body followed by that
timestamp. A timestamp more than five minutes away from ours is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_SKEW_S = 300


def sign(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode("utf-8"), body + timestamp.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def verify(key: str, body: bytes, timestamp: str, signature: str, now: float | None = None) -> bool:
    """Whether the request is the app's own and fresh; compared in constant time."""
    if not key or not timestamp or not signature:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(sign(key, body, timestamp), signature.strip().lower())
