"""The SMPP link: the one process that holds the bind to the SMSC (``outreach smpp``).

It binds as a transceiver and serves three things on the one connection:

- **Sending.** Jobs put texts on two Redis lists (replies first, then bulk) and
  wait for the answer under the text's id (``provider.py``). The link
  submits them as ``submit_sm`` parts, with at most ``SMPP_WINDOW`` unanswered at a
  time and no more than ``SMPP_TPS`` a second, and hands each ``submit_sm_resp``
  back. A part the SMSC refuses for now (``ESME_RTHROTTLED``, ``ESME_RMSGQFUL``) was
  not taken: the link pauses, halves its rate (climbing back a step every
  ``RECOVER_S`` without another), and submits that part again, so a long text is
  never left half sent because of the SMSC's pace. If the connection drops with parts unanswered, those texts are answered
  "may have been sent" (``unknown``, never resent blindly); texts still on the
  lists wait for the next bind: nothing is lost and nothing sent twice.
- **Inbound texts** (``deliver_sm``): joined when sent in parts, then put in the
  inbox like any SMS (the worker's drainer processes them: keywords, conversations,
  polls). While the database is down they go to the inbound spool; only if that
  fails too does the SMSC get a temporary error, so that it delivers again.
- **Delivery receipts** (``deliver_sm`` with the receipt flag) move outbox rows on.

``enquire_link`` keeps an idle bind alive; a lost bind is retried after 1, 2, 4 …
60 seconds.

**One bind per account, across hosts.** An SMSC account usually allows one bind,
and two would each pop texts from the same lists. So the link binds only while it
holds the account's lease in Redis (``SET NX`` with a ``LEASE_S`` expiry), renewed
every ``RENEW_S`` while bound. A second ``outreach smpp`` (another host, for
standby) waits, looking every ``STANDBY_LOOK_S``; if the holder dies its lease
lapses and the standby binds, within ``LEASE_S + STANDBY_LOOK_S`` plus the bind
itself. A link that finds its lease gone (it stalled past the expiry) lets go of
the bind at once: texts it had submitted unanswered are ``unknown``, as for any
lost bind, and nothing is submitted twice.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
import time
import uuid
import warnings

from gateway.channels.sms.inbox import Inbox
from gateway.channels.sms.spool import Spool
from gateway.messaging import outbox
from gateway.phone import mask
from gateway.providers.smpp import provider as smpp
from gateway.providers.base import Inbound
from gateway.outage import is_outage
from gateway.services import Services

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import smpplib.client
    from smpplib import consts
    from smpplib import exceptions as smpp_errors
    from smpplib import smpp as smpp_pdu

log = logging.getLogger(__name__)
RETRY_LATER = {consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL}
LONGEST_BACKOFF_S = 60
THROTTLED_PAUSE_S = 1.0  # after "too fast": nothing is submitted for this long
RECOVER_S = 10  # a second without being told "too fast" this long earns one more a second
LEASE_S = 20  # a holder silent this long has lost the account's bind to a standby
RENEW_S = 5
STANDBY_LOOK_S = 2
# Renew (or let go of) the lease only while it is still ours: a stalled link must
# not extend or delete the lease a standby has taken since.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaseLost(Exception):
    """Another link holds the account's bind now."""


class SmppLink:
    def __init__(self, services: Services, inbox: Inbox, spool: Spool):
        self.config, self.redis, self.db = services.config, services.redis, services.db
        self.inbox, self.spool = inbox, spool
        self.client: smpplib.client.Client | None = None
        self.inflight: dict[int, tuple[str, int]] = {}  # submit_sm sequence -> (text id, part)
        self.pending: dict[str, dict] = {}  # text id -> parts answered so far
        self.parts: dict[tuple, dict[int, str]] = {}  # inbound texts arriving in parts
        self.sent_at: list[float] = []  # submit times in the last second (the TPS limit)
        self.tps = self.config.smpp_tps  # SMPP_TPS, or less while the SMSC says "too fast"
        self.again: list[tuple[str, int]] = []  # (text id, part) refused for now: submitted again first
        self.paused_until = 0.0
        self.last_throttled = 0.0
        self.bound = threading.Event()
        self.lease_key = f"smpp:lease:{self.config.smpp_system_id}@{self.config.smpp_host}:{self.config.smpp_port}"
        self.lease_token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.renewed_at = 0.0

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        self.spool.watch(self.inbox.add)  # texts kept through an outage, before a restart too
        backoff = 1
        try:
            while not stop.is_set():
                if not self._lease(stop):
                    return
                try:
                    self._bind()
                    backoff = 1
                    self._serve(stop)
                except LeaseLost:
                    log.warning("smpp link: another host holds the bind now; letting go and standing by")
                    backoff = 0
                except (smpp_errors.ConnectionError, smpp_errors.PDUError, OSError) as exc:
                    log.warning(
                        "smpp link to %s:%s lost: %s", self.config.smpp_host, self.config.smpp_port, type(exc).__name__
                    )
                finally:
                    self._let_go()
                if not stop.is_set() and backoff:
                    stop.wait(backoff)
                    backoff = min(backoff * 2, LONGEST_BACKOFF_S)
        finally:
            self._release()

    def _lease(self, stop: threading.Event) -> bool:
        """Wait until the account's bind is this link's to hold; False if stopped first."""
        said = False
        while not stop.is_set():
            if self.redis.set(self.lease_key, self.lease_token, nx=True, ex=LEASE_S) or (
                self.redis.get(self.lease_key) == self.lease_token.encode()
            ):
                self.renewed_at = time.monotonic()
                return True
            if not said:
                log.info("smpp link: another host holds the bind; standing by")
                said = True
            stop.wait(STANDBY_LOOK_S)
        return False

    def _renew(self) -> None:
        if time.monotonic() - self.renewed_at < RENEW_S:
            return
        if not self.redis.eval(_RENEW, 1, self.lease_key, self.lease_token, LEASE_S):
            raise LeaseLost()
        self.renewed_at = time.monotonic()

    def _release(self) -> None:
        try:
            self.redis.eval(_RELEASE, 1, self.lease_key, self.lease_token)
        except Exception as exc:  # Redis gone: the lease lapses by itself
            log.warning("smpp link: could not hand back the bind's lease (%s)", type(exc).__name__)

    def _bind(self) -> None:
        client = smpplib.client.Client(
            self.config.smpp_host, self.config.smpp_port, timeout=10, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(self._submitted)
        client.set_message_received_handler(self._delivered)
        client.set_error_pdu_handler(lambda pdu: None)  # a refused submit_sm is answered in _submitted
        client.connect()
        self.client = client
        client.bind_transceiver(system_id=self.config.smpp_system_id, password=self.config.smpp_password)
        self.redis.set(smpp.ALIVE_KEY, 1, ex=15)
        self.bound.set()
        log.info("smpp link bound to %s:%s", self.config.smpp_host, self.config.smpp_port)

    def _serve(self, stop: threading.Event) -> None:
        last_heard = time.monotonic()
        while not stop.is_set():
            self._renew()
            self.redis.set(smpp.ALIVE_KEY, 1, ex=15)
            self.client.poll()
            if time.monotonic() - last_heard > self.config.smpp_enquire_s:
                self.client.send_pdu(smpp_pdu.make_pdu("enquire_link", client=self.client))
                last_heard = time.monotonic()
            if len(self.inflight) < self.config.smpp_window and self._rate_allows():
                if self.again:
                    self._submit_again(*self.again.pop(0))
                    continue
                item = self.redis.lpop(smpp.URGENT_LIST) or self.redis.lpop(smpp.BULK_LIST)
                if item is not None:
                    self._submit(json.loads(item))
                    continue
            select.select([self.client._socket], [], [], 0.02)  # smpplib has no public fileno

    def _let_go(self) -> None:
        """The bind is gone: texts whose parts went unanswered may have been sent."""
        self.bound.clear()
        self.redis.delete(smpp.ALIVE_KEY)
        for ref in list(self.pending):
            self._answer(
                ref,
                {
                    "accepted": False,
                    "ambiguous": True,
                    "error": "smpp: the connection dropped before the SMSC answered",
                },
            )
        self.inflight.clear()
        self.again.clear()
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:  # already gone
                pass
            self.client = None

    def _rate_allows(self) -> bool:
        now = time.monotonic()
        if now < self.paused_until:
            return False
        if self.tps < self.config.smpp_tps and now - self.last_throttled > RECOVER_S:
            self.tps += 1
            self.last_throttled = now  # the next step up is another RECOVER_S away
        self.sent_at = [t for t in self.sent_at if t > now - 1]
        return len(self.sent_at) < self.tps

    def _throttled(self, ref: str, number: int) -> None:
        """The SMSC refused a part for now: slow down, and send it again first."""
        now = time.monotonic()
        if now >= self.paused_until:
            log.warning("smpp: the SMSC says too fast; pausing, then %s a second", max(1, self.tps // 2))
        self.tps = max(1, self.tps // 2) if now >= self.paused_until else self.tps
        self.paused_until = max(self.paused_until, now + THROTTLED_PAUSE_S)
        self.last_throttled = now
        self.again.append((ref, number))

    # ------------------------------------------------------------------ sending

    def _submit(self, request: dict) -> None:
        ref = request["ref"]
        if request.get("deadline", 0) < time.time():  # its job gave up waiting: it will not be sent
            self._answer(ref, {"accepted": False, "transient": True, "error": "smpp: waited too long; not sent"})
            return
        parts = smpp.split(request["text"])
        self.pending[ref] = {
            "total": len(parts.bodies),
            "ids": {},
            "refused": None,
            "to": request["to"],
            "parts": parts,
            "deadline": request.get("deadline", 0),
        }
        for number in range(len(parts.bodies)):
            self._submit_part(ref, number)

    def _submit_part(self, ref: str, number: int) -> None:
        entry, source = self.pending[ref], self.config.smpp_source
        parts = entry["parts"]
        pdu = self.client.send_message(
            source_addr_ton=consts.SMPP_TON_INTL if source.isdigit() else consts.SMPP_TON_ALNUM,
            source_addr=source,
            dest_addr_ton=consts.SMPP_TON_INTL,
            dest_addr_npi=consts.SMPP_NPI_ISDN,
            destination_addr=entry["to"].lstrip("+"),
            short_message=parts.bodies[number],
            data_coding=parts.data_coding,
            esm_class=parts.esm_class,
            registered_delivery=1 if number == 0 else 0,
        )  # the receipt names the first part's id
        self.inflight[pdu.sequence] = (ref, number)
        self.sent_at.append(time.monotonic())

    def _submit_again(self, ref: str, number: int) -> None:
        """A part refused for now, once the pause is over; unless its job gave up waiting."""
        entry = self.pending.get(ref)
        if entry is None:
            return
        if entry["deadline"] < time.time():
            taken = bool(entry["ids"])  # the member may have some of it
            self._answer(
                ref,
                {
                    "accepted": False,
                    "transient": not taken,
                    "ambiguous": taken,
                    "error": "smpp: the SMSC stayed too busy; " + ("partly sent" if taken else "not sent"),
                },
            )
            return
        self._submit_part(ref, number)

    def _submitted(self, pdu, **_) -> None:
        found = self.inflight.pop(pdu.sequence, None)
        if found is None or found[0] not in self.pending:
            return
        ref, number = found
        entry = self.pending[ref]
        if pdu.status in RETRY_LATER:
            self._throttled(ref, number)
            return
        if pdu.status:
            entry["refused"] = int(pdu.status)
        else:
            message_id = pdu.message_id
            entry["ids"][number] = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
        if len(entry["ids"]) + (1 if entry["refused"] is not None else 0) < entry["total"] and entry["refused"] is None:
            return
        if entry["refused"] is None:
            self._answer(ref, {"accepted": True, "message_id": entry["ids"].get(0)})
        else:
            status = entry["refused"]
            self._answer(ref, {"accepted": False, "error": f"smpp: {consts.DESCRIPTIONS.get(status, hex(status))}"})

    def _answer(self, ref: str, result: dict) -> None:
        self.pending.pop(ref, None)
        key = smpp.result_key(ref)
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(key, json.dumps(result))
        pipe.expire(key, 120)
        pipe.execute()

    # ------------------------------------------------------------------ receiving

    def _delivered(self, pdu, **_) -> int:
        """Handle one deliver_sm; the value is the status of our deliver_sm_resp."""
        esm_class = int(pdu.esm_class or 0)
        if esm_class & smpp.RECEIPT_FLAG:
            report = smpp.receipt(pdu.short_message or b"")
            if report is not None:
                try:
                    with self.db.session() as db:
                        outbox.apply_report(db, report)
                except Exception as exc:
                    log.warning("smpp receipt not applied: %s", type(exc).__name__)
                    return consts.SMPP_ESME_RX_T_APPN  # the SMSC sends it again
            return consts.SMPP_ESME_ROK
        text, concat = smpp.decode(pdu.short_message or b"", int(pdu.data_coding or 0), esm_class)
        source = pdu.source_addr.decode() if isinstance(pdu.source_addr, bytes) else str(pdu.source_addr)
        phone = f"+{source}" if int(pdu.source_addr_ton or 0) == consts.SMPP_TON_INTL else source
        if concat is not None:
            reference, total, number = concat
            parts = self.parts.setdefault((source, reference, total), {})
            parts[number] = text
            if len(parts) < total:
                return consts.SMPP_ESME_ROK  # the rest is on its way
            text = "".join(parts[n] for n in sorted(parts))
            del self.parts[(source, reference, total)]
        return self._receive(Inbound("smpp", smpp.inbound_id(phone, text, time.time()), phone, text))

    def _receive(self, inbound: Inbound) -> int:
        try:
            self.inbox.add(inbound)  # the worker's drainer processes it
        except Exception as exc:
            if not is_outage(exc):
                log.exception("inbound sms via smpp from %s failed", mask(inbound.phone))
                return consts.SMPP_ESME_ROK  # a bug: a redelivery would fail the same way
            try:
                self.spool.add(inbound)
            except OSError:
                return consts.SMPP_ESME_RX_T_APPN
            self.spool.watch(self.inbox.add)
        return consts.SMPP_ESME_ROK
