"""Inbound phone calls: the member's flow, walked with key presses and recordings.

Each provider callback is one step: the first starts the main flow, a key press
answers the screen, a recording answers a free-text input (its URL is kept in
place of text), silence repeats the screen. After ``VOICE_MAX_REPEATS`` silences
in a row the call ends politely. The conversation state lives in Redis under the
provider's call id (hashed), never the phone number, until the call ends.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from gateway.channels.conversation import Conversations
from gateway.channels.voice.pieces import Piece, Speech, speak
from gateway.engine import Screen, State, current_screen
from gateway.errors import FlowError, StateError
from gateway.phone import mask, phone_key

log = logging.getLogger(__name__)
CHANNEL = "voice"


@dataclass(frozen=True)
class CallStep:
    """What to play next and in which language."""

    speech: Speech
    language: str
    english: Speech | None = None  # the same screen in English, for what is not recorded in hers


class CallService:
    def __init__(self, conversations: Conversations, redis, secret: str, max_repeats: int, ttl: int = 3600):
        self.conversations, self.redis = conversations, redis
        self.secret, self.max_repeats, self.ttl = secret, max_repeats, ttl

    def step(
        self,
        provider: str,
        call_id: str,
        phone: str,
        digits: str = "",
        recording: str = "",
        silent: bool = False,
        flow: str = "main",
        start_vars: dict | None = None,
    ) -> CallStep:
        """One callback. ``flow`` and ``start_vars`` apply when the call begins (a
        call we placed plays ``reminder_call`` for the row it was placed for)."""
        key = f"voice:call:{phone_key(provider + ':' + call_id, self.secret)}"
        stored = self._load(key)
        try:
            if stored is None:
                result = self.conversations.start(phone, CHANNEL, flow, vars=start_vars)
                return self._keep(key, result.state, result.screen, 0, phone)
            state, silences = stored
            if recording:
                result = self.conversations.recorded(phone, CHANNEL, state, recording)
            elif digits:
                result = self.conversations.answer(phone, CHANNEL, state, digits)
            else:
                # Silence, or a key press the provider passed on empty: say it again.
                silences += 1
                if silences > self.max_repeats:
                    self.redis.delete(key)
                    log.info("call from %s ended after %d silences", mask(phone), silences - 1)
                    return self.farewell(state.language)
                book = self.conversations.edition(state).book
                return self._keep(key, state, current_screen(book, state), silences, phone)
            return self._keep(key, result.state, result.screen, 0, phone)
        except (StateError, FlowError) as exc:
            log.warning("call from %s: conversation unusable (%s); starting over", mask(phone), exc)
            self.redis.delete(key)
            result = self.conversations.start(phone, CHANNEL, "main")
            return self._keep(key, result.state, result.screen, 0, phone)

    def in_progress(self, provider: str, call_id: str) -> bool:
        return bool(self.redis.exists(f"voice:call:{phone_key(provider + ':' + call_id, self.secret)}"))

    def hang_up(self, provider: str, call_id: str) -> None:
        """The call ended (Africa's Talking ``isActive=0``, Twilio ``completed``)."""
        self.redis.delete(f"voice:call:{phone_key(provider + ':' + call_id, self.secret)}")

    # -------------------------------------------------------------- internals

    def _keep(self, key: str, state: State, screen: Screen, silences: int, phone: str) -> CallStep:
        catalog = self.conversations.edition(state).catalog
        speech = speak(screen, catalog, state.language)
        english = speak(screen, catalog, "en") if state.language != "en" and "en" in catalog.languages else None
        if screen.final:
            self.redis.delete(key)
        else:
            # "who", her phone key, is what an erasure finds the call by.
            self.redis.set(
                key,
                json.dumps(
                    {"state": state.to_dict(copy=False), "silences": silences, "who": phone_key(phone, self.secret)},
                    ensure_ascii=False,
                ),
                ex=self.ttl,
            )
        return CallStep(speech, state.language, english)

    def _load(self, key: str) -> tuple[State, int] | None:
        raw = self.redis.get(key)
        if not raw:
            return None
        try:
            stored = json.loads(raw)
            return State.from_dict(stored["state"]), int(stored.get("silences", 0))
        except (TypeError, ValueError, KeyError):
            return None

    def farewell(self, lang: str) -> CallStep:
        """The goodbye as a step: in her language, with English for when it is not recorded."""
        return CallStep(self.goodbye(lang), lang, self.goodbye("en") if lang != "en" else None)

    def goodbye(self, lang: str) -> Speech:
        """The polite end of a call that cannot go on."""
        text = self.conversations.edition().catalog.template(lang, "voice.goodbye")
        return Speech((Piece("voice.goodbye", text),), 0)
