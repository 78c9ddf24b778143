"""Recording prompts by phone, for an organiser without a good microphone.

She calls the voice number and presses * on the first menu (or the dashboard calls
her), types the studio PIN (``STUDIO_PIN``), then a prompt's number from the printed
script (``outreach prompts audit --script``) or a live text's number (a session's
title, a poll's question: ``store.live_texts``). She hears the current recording if
there is one, records after the tone, hears it back, and presses 1 to keep it, 2 to
record again, 3 for another prompt. Kept recordings are fetched from the provider,
converted and saved by a job (``jobs.save_recording``), so the call never waits.

A small state machine of its own (not a member flow): its state lives in Redis under
the hashed call id, like a member's call, and each step returns what to say.

The PIN guards a prompt every caller hears, so guessing it is slow everywhere, not
just within one call (whose id the caller controls): wrong PINs are counted in Redis
per calling number (``NUMBER_TRIES`` an hour) and across the install
(``INSTALL_TRIES`` an hour). Past either, that number, or every number, is refused
for the rest of the hour, the right PIN included, and the lock is audited.
``STUDIO_PHONES`` may also name the only numbers the studio answers at all.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from typing import Callable

from gateway.channels.voice.pieces import Piece, Speech
from gateway.content.library import Library
from gateway.phone import mask, phone_key

log = logging.getLogger(__name__)

PIN_TRIES = 3  # in one call
NUMBER_TRIES = 5  # wrong PINs from one number an hour, over any number of calls
INSTALL_TRIES = 10  # wrong PINs from all numbers together an hour
LOCK_S = 3600
DIGITS = 8  # a PIN or a prompt number: up to 8 keys, or fewer then #
MAX_SILENCES = 3
TTL = 3600


@dataclass(frozen=True)
class Target:
    """What she is recording: ``key`` in ``lang``, read from ``text``."""

    lang: str
    key: str
    text: str


# number -> Target, or None (the flows' prompts and the live texts, looked up by the caller)
Lookup = Callable[[int], "Target | None"]
# (lang, key) -> the public URL of its recording, or None
AudioUrl = Callable[[str, str], "str | None"]
# (provider, recording URL, target, who) -> None: queue the job that fetches and keeps it
Keep = Callable[[str, str, Target, str], None]
# (what, detail) -> None: write an audit entry (a lock began)
Notify = Callable[[str, str], None]


class PhoneStudio:
    def __init__(
        self,
        redis,
        secret: str,
        pin: str,
        library: Library,
        lang: str,
        phones: tuple[str, ...] = (),
        notify: Notify | None = None,
    ):
        self.redis, self.secret, self.pin, self.library, self.lang = redis, secret, pin, library, lang
        self.phones = frozenset(phones)
        self.notify = notify or (lambda what, detail: None)

    @property
    def enabled(self) -> bool:
        return len(self.pin) >= 6 and self.pin.isdigit()

    def allows(self, phone: str | None) -> bool:
        """Whether this caller may be offered the studio at all (``STUDIO_PHONES``)."""
        return self.enabled and (not self.phones or phone in self.phones)

    def _fail_keys(self, phone: str) -> tuple[str, str]:
        return f"voice:studio:fail:{phone_key(phone or '-', self.secret)}", "voice:studio:fail:all"

    def locked(self, phone: str) -> bool:
        by_number, everyone = self._fail_keys(phone)
        mine, all_ = self.redis.mget(by_number, everyone)
        return int(mine or 0) >= NUMBER_TRIES or int(all_ or 0) >= INSTALL_TRIES

    def _count_wrong(self, phone: str) -> None:
        """One more wrong PIN; the hour starts at the first. A lock is audited once."""
        by_number, everyone = self._fail_keys(phone)
        pipe = self.redis.pipeline(transaction=False)
        for key in (by_number, everyone):
            pipe.set(key, 0, ex=LOCK_S, nx=True)
            pipe.incr(key)
        mine, all_ = pipe.execute()[1::2]
        log.warning("studio: wrong PIN from %s (%d this hour; %d from all numbers)", mask(phone), mine, all_)
        if mine == NUMBER_TRIES:
            self.notify("studio.locked", f"number {mask(phone)}: {NUMBER_TRIES} wrong PINs in an hour")
        if all_ == INSTALL_TRIES:
            self.notify("studio.locked", f"every number: {INSTALL_TRIES} wrong PINs in an hour")

    def _key(self, provider: str, call_id: str) -> str:
        return f"voice:studio:{phone_key(provider + ':' + call_id, self.secret)}"

    def active(self, provider: str, call_id: str) -> bool:
        return bool(call_id) and bool(self.redis.exists(self._key(provider, call_id)))

    def begin(self, provider: str, call_id: str) -> Speech:
        """This call is now a studio call (she pressed *, or the dashboard called her):
        the first thing she hears is the PIN question."""
        state = {"stage": "pin", "tries": 0, "silences": 0}
        self._save(provider, call_id, state)
        return self._prompt(state, lambda lang, key: None)

    def end(self, provider: str, call_id: str) -> None:
        self.redis.delete(self._key(provider, call_id))

    def step(
        self,
        provider: str,
        call_id: str,
        digits: str,
        recording: str,
        lookup: Lookup,
        audio_url: AudioUrl,
        keep: Keep,
        who: str,
        phone: str = "",
    ) -> Speech:
        state = self._load(provider, call_id) or {"stage": "pin", "tries": 0, "silences": 0}
        stage = state["stage"]
        if not digits and not recording:
            state["silences"] = state.get("silences", 0) + 1
            if state["silences"] > MAX_SILENCES:
                return self._goodbye(provider, call_id)
            self._save(provider, call_id, state)
            return self._prompt(state, audio_url)
        state["silences"] = 0
        if stage == "pin":
            if self.locked(phone):  # even the right PIN, until the hour is over
                log.warning("studio: PIN from %s refused while locked", mask(phone))
                return self._goodbye(provider, call_id)
            if hmac.compare_digest(digits.encode(), self.pin.encode()):
                state.update(stage="number", tries=0)
                return self._next(provider, call_id, state, [self._piece("studio.welcome")], audio_url)
            self._count_wrong(phone)
            state["tries"] = state.get("tries", 0) + 1
            if state["tries"] >= PIN_TRIES:
                return self._goodbye(provider, call_id)
            return self._next(provider, call_id, state, [self._piece("studio.wrong_pin")], audio_url)
        if stage == "number":
            target = lookup(int(digits)) if digits.isdigit() and len(digits) <= 6 else None
            if target is None:
                return self._next(provider, call_id, state, [self._piece("studio.unknown")], audio_url)
            state.update(stage="record", lang=target.lang, key=target.key, text=target.text)
            return self._next(provider, call_id, state, [], audio_url, hear_current=True)
        if stage == "record":
            if recording:
                state.update(stage="review", recording=recording[:500])
            return self._next(provider, call_id, state, [], audio_url)
        if stage == "review":
            if digits == "1":
                keep(provider, state["recording"], Target(state["lang"], state["key"], state["text"]), who)
                state = {"stage": "number", "silences": 0}
                return self._next(provider, call_id, state, [self._piece("studio.saved")], audio_url)
            if digits == "2":
                state["stage"] = "record"
            elif digits == "3":
                state = {"stage": "number", "silences": 0}
            return self._next(provider, call_id, state, [], audio_url)
        return self._goodbye(provider, call_id)

    # -------------------------------------------------------------- internals

    def _next(
        self,
        provider: str,
        call_id: str,
        state: dict,
        before: list[Piece],
        audio_url: AudioUrl,
        hear_current: bool = False,
    ) -> Speech:
        self._save(provider, call_id, state)
        speech = self._prompt(state, audio_url, hear_current)
        return Speech(tuple(before) + speech.pieces, speech.digits, speech.record)

    def _prompt(self, state: dict, audio_url: AudioUrl, hear_current: bool = False) -> Speech:
        stage = state["stage"]
        if stage == "pin":
            return Speech((self._piece("studio.pin"),), DIGITS)
        if stage == "number":
            return Speech((self._piece("studio.number"),), DIGITS)
        if stage == "record":
            # What to read: an English text is read out to her; a Lao one is on her script.
            pieces = [Piece(None, state["text"])] if state["lang"] == "en" else []
            current = audio_url(state["lang"], state["key"])
            if hear_current and current:
                pieces = [self._piece("studio.current"), Piece(None, "(recording)", url=current)] + pieces
            return Speech(tuple(pieces + [self._piece("studio.record")]), 0, record=True)
        # review: her recording, then what to do with it
        return Speech((Piece(None, "(her recording)", url=state.get("recording")), self._piece("studio.review")), 1)

    def _piece(self, key: str) -> Piece:
        return Piece(key, self.library.current().catalog.template(self.lang, key), pause=True)

    def _goodbye(self, provider: str, call_id: str) -> Speech:
        self.end(provider, call_id)
        return Speech((self._piece("studio.goodbye"),), 0)

    def _save(self, provider: str, call_id: str, state: dict) -> None:
        self.redis.set(self._key(provider, call_id), json.dumps(state, ensure_ascii=False), ex=TTL)

    def _load(self, provider: str, call_id: str) -> dict | None:
        raw = self.redis.get(self._key(provider, call_id))
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None
