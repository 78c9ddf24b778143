"""Phone numbers: parse to E.164, mask for logs, and key for Redis.

A phone number linked to an advocacy network must not leak. Logs and messages use
``mask`` (all but the last three digits hidden); Redis keys use ``phone_key``, a
keyed hash that cannot be reversed without the instance secret. ``redact`` masks
anything number-like in free text: the log formatter's last line of defence.

Only numbers that ``phonenumbers`` calls *valid* (in any region) become members
or get replies: a merely "possible" one (``+856 20 6000 0000``) is a typo, a
spoofed sender or a test, and texting it costs money and may reach a stranger.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "LA"


@lru_cache(maxsize=8192)  # every hop of a session parses the same number again
def to_e164(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164 (``+8562055512345``), or None when it is not a valid number."""
    if not raw or len(raw) > 32:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_valid(raw: str, region: str = DEFAULT_REGION) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(raw, region))
    except phonenumbers.NumberParseException:
        return False


# E.164 (+ and 8-15 digits), or a local Lao mobile (020 ...), or 856 without its +,
# allowing the spaces and dashes people write numbers with.
_NUMBERS = re.compile(r"(?<![\d+])(?:\+\d(?:[ -]?\d){6,14}|0?20(?: ?\d){8}|856(?: ?\d){8,10})(?!\d)")


def redact(text: str) -> str:
    """``text`` with every phone-number-like run masked but its last three digits."""
    return _NUMBERS.sub(lambda m: mask(re.sub(r"[ \-]", "", m.group())), text)


def mask(phone: str | None) -> str:
    """``+8562055512345`` -> ``**********345``: safe for logs."""
    if not phone:
        return "(none)"
    return "*" * max(len(phone) - 3, 0) + phone[-3:]


@lru_cache(maxsize=8192)
def phone_key(phone: str, secret: str) -> str:
    """A stable, irreversible key for per-number state in Redis."""
    return hmac.new(secret.encode(), phone.encode(), hashlib.sha256).hexdigest()[:32]


# NANPA keeps 555-0100 to 555-0199 in every area code for fiction: valid numbers (so
# the whole path runs as for a member) that no telephone will ever have, here or
# anywhere. The simulators dial from them, so an organiser testing never acts as, or
# reads the messages of, a real member.
_FICTIONAL_AREAS = ("202", "212", "312", "415", "617", "303", "206", "404", "512", "702")
FICTIONAL_COUNT = len(_FICTIONAL_AREAS) * 100


def fictional(index: int) -> str:
    """The ``index``-th fictional number (``+12025550100`` for 0), repeating after
    ``FICTIONAL_COUNT``."""
    index %= FICTIONAL_COUNT
    return f"+1{_FICTIONAL_AREAS[index // 100]}55501{index % 100:02d}"


# The same numbers in SQL: +1, any area, 555-01NN (kept for fiction by the North
# American plan, so no member can have one): organisers' test numbers.
FICTIONAL_LIKE = "+1___55501__"


def is_fictional(phone: str) -> bool:
    return len(phone) == 12 and phone[:2] == "+1" and phone[2:5] in _FICTIONAL_AREAS and phone[5:10] == "55501"
