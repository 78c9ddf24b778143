"""SMPP to a local aggregator's or operator's SMSC (``SMS_PROVIDER=smpp``), with ``smpplib``.

An SMPP bind is a long-lived connection, so one process owns it: the SMPP link
(``outreach smpp``, started by ``outreach up``). It binds as a transceiver, keeps
the bind alive with ``enquire_link``, reconnects with backoff, and holds a send
window of at most ``SMPP_WINDOW`` unanswered ``submit_sm`` at a rate of
``SMPP_TPS``. Jobs never open a connection: ``SmppProvider.send`` hands the text to
the link through Redis and waits for its answer, so the outbox rules hold as for
any provider (claimed before, recorded after; an answer that never comes is
``unknown``, never resent blindly).

This module is the protocol, kept apart from the process: how a text becomes
``submit_sm`` parts (Lao as UCS-2, ``data_coding`` 8, long texts in 67-character
parts joined by a UDH), and how a ``deliver_sm`` becomes an inbound text or a
delivery receipt.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

from gateway.providers.base import DeliveryReport, Inbound, Provider, SendOutcome

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from smpplib import consts, gsm

URGENT_LIST, BULK_LIST = "smpp:out:urgent", "smpp:out:bulk"  # the link takes replies first
ALIVE_KEY = "smpp:bound"  # set while the link is bound; a send with no link is not sent
RECEIPT_FLAG = 0x04  # esm_class: this deliver_sm is a delivery receipt
UDH_FLAG = 0x40  # esm_class: short_message starts with a user data header
RECEIPT_STATUS = {
    "DELIVRD": "delivered",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "EXPIRED": "failed",
    "DELETED": "failed",
    "UNKNOWN": None,
    "ACCEPTD": None,
    "ENROUTE": None,
}
_RECEIPT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Z]+)(?:.*?err:(?P<err>\w+))?", re.S)


def result_key(ref: str) -> str:
    return f"smpp:done:{ref}"


@dataclass(frozen=True)
class Parts:
    """A text as ``submit_sm`` bodies: ``data_coding`` 8 (UCS-2) for Lao, 0 for GSM-7."""

    bodies: list[bytes]
    data_coding: int
    esm_class: int


def split(text: str) -> Parts:
    bodies, coding, esm_class = gsm.make_parts(text)
    return Parts(list(bodies), int(coding), int(esm_class))


def decode(short_message: bytes, data_coding: int, esm_class: int) -> tuple[str, tuple | None]:
    """(text, concatenation (ref, total, number) or None) of a deliver_sm body."""
    concat = None
    if esm_class & UDH_FLAG and short_message:
        header_len = short_message[0]
        header, short_message = short_message[1 : 1 + header_len], short_message[1 + header_len :]
        if len(header) >= 5 and header[0] == 0x00:  # IE 0: 8-bit reference concatenation
            concat = (header[2], header[3], header[4])
    if data_coding == consts.SMPP_ENCODING_ISO10646:
        return short_message.decode("utf-16-be", "replace"), concat
    return short_message.decode("latin-1" if data_coding == 3 else "ascii", "replace"), concat


def receipt(short_message: bytes, provider: str = "smpp") -> DeliveryReport | None:
    """A delivery receipt's ``id:… stat:DELIVRD err:000 …`` as a report."""
    found = _RECEIPT.search(short_message.decode("ascii", "replace"))
    if found is None:
        return None
    status = RECEIPT_STATUS.get(found["stat"])
    error = None if status != "failed" else f"{found['stat']} {found['err'] or ''}".strip()
    return DeliveryReport(provider, found["id"], status, error=error)


def inbound_id(phone: str, text: str, when: float) -> str:
    """An SMSC gives a member's text no id, so a redelivered ``deliver_sm`` (our answer
    was lost) is known by its sender, words and minute."""
    return "mo-" + hashlib.sha1(f"{phone}|{text}|{int(when // 60)}".encode(), usedforsecurity=False).hexdigest()[:24]


class SmppProvider(Provider):
    name = "smpp"
    recipients_per_request = 1

    def __init__(self, config):
        self.config = config
        self.redis = None
        self.wait_s = config.provider_timeout_ms / 1000

    def attach(self, redis) -> None:
        self.redis = redis

    def send(
        self,
        text: str,
        phones: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        urgent: bool = True,
        ttl: int | None = None,
    ) -> list[SendOutcome]:
        ids = list(ids) if ids is not None else [None] * len(phones)
        return [
            self._send_one(text, phone, ref or uuid.uuid4().hex, urgent) for phone, ref in zip(phones, ids, strict=True)
        ]

    def _bound(self) -> bool:
        """Whether the link holds a bind, waiting a few seconds for one being remade."""
        deadline = time.monotonic() + min(self.wait_s, 5)
        while not self.redis.exists(ALIVE_KEY):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _send_one(self, text: str, phone: str, ref: str, urgent: bool) -> SendOutcome:
        if self.redis is None or not self._bound():
            return SendOutcome(
                phone, False, error="smpp: the link is not bound (is `outreach smpp` running?)", transient=True
            )
        request = json.dumps({"ref": ref, "to": phone, "text": text, "deadline": time.time() + self.wait_s})
        self.redis.delete(result_key(ref))
        self.redis.rpush(URGENT_LIST if urgent else BULK_LIST, request)
        answered, deadline = None, time.monotonic() + self.wait_s
        while answered is None and time.monotonic() < deadline:
            # Short waits: a Redis client's socket times out after 5 s (gateway.broker).
            answered = self.redis.blpop([result_key(ref)], timeout=1)
        if answered is None:
            if self.redis.lrem(URGENT_LIST if urgent else BULK_LIST, 1, request):
                return SendOutcome(phone, False, error="smpp: the link was too busy; not sent", transient=True)
            return SendOutcome(phone, False, error="smpp: no answer from the SMSC; may have been sent", ambiguous=True)
        result = json.loads(answered[1])
        return SendOutcome(
            phone,
            bool(result.get("accepted")),
            result.get("message_id"),
            result.get("error"),
            transient=bool(result.get("transient")),
            ambiguous=bool(result.get("ambiguous")),
        )

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        return SendOutcome(phone, False, error="SMPP places no calls; use Twilio or Somleng")

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None:
        return None  # inbound texts arrive on the bind, not on a webhook

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | None:
        return None
