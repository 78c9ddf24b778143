"""One USSD hop from Africa's Talking, from request fields to ``CON``/``END`` reply.

Africa's Talking sends ``text`` as every input so far joined by ``*``. The new
input is what follows the previous hop's text, so inputs that contain ``*``
survive. A hop whose ``text`` equals the previous one is a retransmission: it
gets the stored reply and nothing runs again.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from gateway.channels.conversation import Conversations
from gateway.channels.text import screen_lines
from gateway.channels.ussd.pages import BACK_KEY, MORE_KEY, PageLimits, paginate, reply
from gateway.channels.ussd.sessions import Opened, UssdRecord, UssdSessions
from gateway.content.prompts import Catalog
from gateway.engine import Option, Screen, State, Step, Text, current_screen
from gateway.engine.digits import fold_digits
from gateway.engine.step import pick_many
from gateway.errors import FlowError, StateError
from gateway.phone import mask, phone_key, to_e164

log = logging.getLogger(__name__)

# How long a duplicate hop waits for the first copy to finish before giving up.
LOCK_WAIT_S = 3.0
CHANNEL = "ussd"
# Wrong keys on the "go on where you left off?" screen before she simply starts afresh.
RESUME_TRIES = 3
_OPTION_LINE = re.compile(r"^(\d+)\.", re.MULTILINE)


@dataclass(frozen=True)
class UssdHop:
    session_id: str
    phone: str
    text: str
    service_code: str = ""
    network_code: str = ""
    # Some aggregators send only the newest input, not the whole history; they
    # tell a retransmission by an id of the hop, if they send one.
    latest: bool = False
    hop_id: str = ""

    def repeats(self, record: UssdRecord) -> bool:
        """Whether this hop is a retransmission of the one ``record`` answered."""
        if not record.reply:
            return False
        if self.latest:
            return bool(self.hop_id) and record.last_hop == self.hop_id
        return record.last_text == self.text

    def typed(self, record: UssdRecord) -> str:
        """What the member typed on this hop."""
        return self.text if self.latest else new_input(record.last_text, self.text)


def new_input(previous: str, text: str) -> str:
    """The member's latest input, given the previous hop's accumulated ``text``."""
    if previous == "":
        return text
    if text.startswith(previous + "*"):
        return text[len(previous) + 1 :]
    # The telco's history diverged from ours (rare); the last segment is the best guess.
    return text.rsplit("*", 1)[-1]


class UssdService:
    def __init__(
        self,
        conversations: Conversations,
        sessions: UssdSessions,
        limits: PageLimits,
        secret: str,
        default_language: str,
        rate_limit: int,
    ):
        self.conversations = conversations
        self.sessions = sessions
        self.limits = limits
        self.secret = secret
        self.default_language = default_language
        self.rate_limit = rate_limit

    # ------------------------------------------------------------------ entry

    def handle(self, hop: UssdHop) -> str:
        phone = to_e164(hop.phone)
        if phone is None:
            return self.message("ussd.bad_number", self.default_language)
        key = phone_key(phone, self.secret)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            opened = self.sessions.open(hop.session_id, key)
            record = opened.record
            if record is not None and hop.repeats(record):
                if opened.locked:
                    self.sessions.unlock(hop.session_id, opened.token)
                return record.reply  # a retransmission: same reply, nothing applied
            if opened.locked:
                break
            if time.monotonic() > deadline:
                log.warning("ussd session busy for %s", mask(phone))
                return self.message("ussd.error", record.language if record else self.default_language)
            time.sleep(0.02)
        try:
            if opened.hops_this_minute > self.rate_limit:
                log.warning("ussd rate limit hit for %s", mask(phone))
                self.sessions.unlock(hop.session_id, opened.token)
                return self.message("ussd.rate_limited", record.language if record else self.default_language)
            updated, resume, forget = self._hop(opened, hop, phone, key)
        except BaseException:
            self.sessions.unlock(hop.session_id, opened.token)
            raise
        updated.last_text, updated.last_hop, updated.who = hop.text, hop.hop_id, key
        self.sessions.save(hop.session_id, updated, opened.token, key, resume, forget)
        return updated.reply

    def message(self, key: str, language: str) -> str:
        """A one-screen END reply outside any flow (errors, limits)."""
        return reply(self.conversations.edition().catalog.render(Text(key), language), final=True)

    # ------------------------------------------------------------------- hops

    def _hop(self, opened: Opened, hop: UssdHop, phone: str, key: str):
        """Return (new record, resume state to keep or None, whether to forget it)."""
        record = opened.record
        if record is None or record.final:
            # A new session came with her resume slot; a hop after END (rare) reads it.
            offered = self._resumable(opened.resume if record is None else self.sessions.resume_slot(key))
            if offered is not None:
                return self._offer_resume(offered), None, False
            return self._show(self.conversations.start(phone, CHANNEL))
        typed = hop.typed(record)
        if len(record.pages) > 1 and fold_digits(typed).strip() in (MORE_KEY, BACK_KEY):
            return self._turn_page(record, fold_digits(typed).strip()), None, False
        if record.mode == "resume_offer":
            return self._answer_resume(record, fold_digits(typed).strip(), phone)
        try:
            state = State.from_dict(record.state)
            unseen = self._unseen_choice(record, typed)
            if unseen is not None:  # she cannot mean an option she has not been shown
                book = self.conversations.edition(state).book
                return self._show(Step(state, screen=current_screen(book, state, unseen)))
            shown = self._show(self.conversations.answer(phone, CHANNEL, state, typed))
            after = shown[0].state
            if (after["flow"], after["node"], after["phase"]) == (state.flow, state.node, state.phase):
                self._stay_near(shown[0], fold_digits(typed).strip())
            return shown
        except (StateError, FlowError, TypeError) as exc:
            # Flows changed under a live session, or the record is corrupt: start over.
            log.warning("ussd state unusable for %s (%s); starting over", mask(phone), exc)
            return self._show(self.conversations.start(phone, CHANNEL))

    def _show(self, result: Step):
        state = result.state
        # Not a deep copy: the record and the resume slot are written out as JSON at
        # the end of this hop, and nothing changes the engine's state before that.
        record = UssdRecord(mode="flow", language=state.language, state=state.to_dict(copy=False))
        self._render(record, result.screen, self.conversations.edition(state).catalog)
        if result.final:
            return record, None, True
        keep = record.state if self._worth_resuming(state) else None
        return record, keep, keep is None

    def _worth_resuming(self, state: State) -> bool:
        """Only a member part-way through a flow, with something typed or answered
        that a new dial would lose, is offered to go on. A flow that is over has
        ended on an END screen and is never offered again."""
        if state.flow == "main":
            return False
        typed = any(name not in self.conversations.settings for name in state.vars)
        return typed or bool((state.quiz or {}).get("answers"))

    @staticmethod
    def _unseen_choice(record: UssdRecord, typed: str) -> Text | None:
        """A notice when ``typed`` picks an option that is only on a page she has
        not turned to yet; None when every number she typed was shown to her."""
        if record.expects not in ("choice", "choices") or len(record.pages) < 2:
            return None
        shown = [int(n) for page in record.pages[: record.seen + 1] for n in _OPTION_LINE.findall(page)]
        everything = [int(n) for page in record.pages for n in _OPTION_LINE.findall(page)]
        if not shown or not everything:
            return None
        picked = pick_many(typed, max(everything)) if record.expects == "choices" else None
        if record.expects == "choice":
            number = fold_digits(typed).strip().rstrip(".)")
            picked = [int(number)] if number.isascii() and number.isdigit() and len(number) <= 3 else None
        if not picked or all(n in shown or n not in everything for n in picked):
            return None
        return Text("validate.menu", {"max": max(shown)})

    def _render(self, record: UssdRecord, screen: Screen, catalog: Catalog) -> None:
        lang = record.language
        more, back = catalog.render(Text("ussd.more"), lang), catalog.render(Text("ussd.back"), lang)
        record.pages = paginate(
            screen_lines(screen, catalog, lang), self.limits, more, back, last_has_back=not screen.final
        )
        if len(record.pages) > 1 and screen.notice is not None and screen.options:
            # "Type 1 to 3" on top of a full page would push the options to page 2,
            # so a retry shows the notice and the options without the question again.
            brief = paginate(
                screen_lines(screen, catalog, lang, brief=True), self.limits, more, back, last_has_back=not screen.final
            )
            if len(brief) == 1:
                record.pages = brief
        record.final, record.expects, record.seen = screen.final, screen.expects, 0
        self._show_page(record, 0)

    @staticmethod
    def _show_page(record: UssdRecord, number: int) -> None:
        """Make page ``number`` the reply; only the last page of a final screen ends it."""
        record.page = min(max(number, 0), len(record.pages) - 1)
        record.seen = max(record.seen, record.page)
        last = record.page == len(record.pages) - 1
        record.reply = reply(record.pages[record.page], final=record.final and last)

    def _stay_near(self, record: UssdRecord, typed: str) -> None:
        """After a toggle on page 3, show page 3 again, so the member sees the mark."""
        for number, page in enumerate(record.pages):
            if any(line.startswith(f"{typed}.") for line in page.splitlines()):
                self._show_page(record, number)
                return

    def _turn_page(self, record: UssdRecord, typed: str) -> UssdRecord:
        self._show_page(record, record.page + (1 if typed == MORE_KEY else -1))
        return record

    # ----------------------------------------------------------------- resume

    def _resumable(self, saved: dict | None) -> State | None:
        if not saved:
            return None
        try:
            state = State.from_dict(saved)
            current_screen(self.conversations.edition(state).book, state)  # still valid?
        except (StateError, FlowError, TypeError, KeyError):
            return None
        return state

    def _offer_resume(self, offered: State, notice: Text | None = None, tries: int = 0) -> UssdRecord:
        screen = Screen(
            Text("ussd.resume"),
            (Option("1", Text("ussd.resume_continue")), Option("2", Text("ussd.resume_restart"))),
            notice,
        )
        record = UssdRecord(mode="resume_offer", language=offered.language, offered=offered.to_dict(), tries=tries)
        self._render(record, screen, self.conversations.edition(offered).catalog)
        return record

    def _answer_resume(self, record: UssdRecord, typed: str, phone: str):
        offered = State.from_dict(record.offered)
        if typed == "1":
            book = self.conversations.edition(offered).book
            return self._show(Step(offered, screen=current_screen(book, offered)))
        if typed == "2" or record.tries + 1 >= RESUME_TRIES:  # no trap: wrong keys start afresh
            return self._show(self.conversations.start(phone, CHANNEL))
        notice = Text("validate.menu", {"max": 2})
        return self._offer_resume(offered, notice, record.tries + 1), None, False
