"""Inbound SMS, from provider record to the reply's outbox row, a batch at a time.

A keyword starts a flow (JOIN, NEXT, QUIZ, LANG), answers at once (HELP) or
changes consent (STOP, START). A text starting with a poll's code (``P4 2``)
answers that poll. Anything else answers whichever we asked her last: her open
SMS conversation (the same YAML flows as USSD, one screen per SMS, state kept in
Redis for a day) or the latest poll sent to her. With neither, she gets the help
text, at most once a day, so two automated senders cannot loop on each other.

The inbound rows (unique per provider message id), the flows' writes and the
outbox rows of a batch of texts commit in one transaction; the inbox
(``inbox.py``) feeds the batches and queues their replies after.

Poll answers, which come in floods when a poll goes out, take a shorter path:
no conversation state, just the inbound row and the vote.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import bindparam

from gateway.channels.conversation import Conversations
from gateway.channels.sms import keywords
from gateway.channels.sms.render import render
from gateway.engine import State, Step, Text
from gateway.errors import FlowError, StateError
from gateway.messaging import outbox
from gateway.phone import mask, phone_key, to_e164
from gateway.polls import answer as poll_answer
from gateway.polls import poll as polls
from gateway.providers.base import Inbound
from gateway.outage import is_outage
from gateway.services import Services
from gateway.store import members
from gateway.store import inbox
from gateway.store.database import upsert_dialect
from gateway.store.models import InboundMessage, Member, utcnow

log = logging.getLogger(__name__)
CHANNEL = "sms"
FLOW_FOR = {"join": "register", "next": "next_session", "quiz": "quizzes", "survey": "surveys", "lang": "language"}
NEEDS_REGISTRATION = {"next", "quiz", "survey"}


@dataclass
class Handled:
    """What became of an inbound SMS (for logs and tests)."""

    outcome: str  # replied | duplicate | ignored | opted_out | voted | invalid | closed | failed
    keyword: str | None = None
    replies: list[int] = field(default_factory=list)  # outbox ids to send (rows until the batch flushes)


@lru_cache(maxsize=4)
def _inbound_insert(dialect_name: str):
    # RETURNING says which rows went in (a row count is not reliable across drivers).
    return (
        upsert_dialect(dialect_name)
        .insert(InboundMessage)
        .on_conflict_do_nothing()
        .returning(InboundMessage.provider, InboundMessage.provider_message_id)
    )


@lru_cache(maxsize=1)
def _link_member():
    """Built once: set an inbound row's member, found by its provider's id."""
    table = InboundMessage.__table__
    return (
        table.update()
        .where(table.c.provider == bindparam("b_provider"), table.c.provider_message_id == bindparam("b_id"))
        .values(member_id=bindparam("member_id"))
    )


class SmsService:
    def __init__(self, services: Services, conversations: Conversations):
        config = self.config = services.config
        self.conversations, self.database = conversations, services.db
        self.redis, self.secret = services.redis, config.secret_key
        self.default_language, self.session_ttl = config.default_language, config.sms_session_ttl
        self.ballots = polls.Ballots(services.db)

    def receive_batch(self, inbounds: list[Inbound]) -> list[Handled]:
        """Process texts in order, in one transaction; return what became of each.

        Replies are written to the outbox, not queued: the caller (the inbox) hands a
        batch's replies to its sender, or queues them in one job. Conversation states are read in one round trip
        before and written in one after the commit. Only one batch is processed at
        a time (the inbox's turn), so her texts cannot race each other.

        A text that raises (a bug, not an outage) rolls the batch back; the batch is
        then processed a text at a time, so that one is marked ``failed`` and the
        rest go on. An outage is raised, with nothing committed."""
        # The published content, known before the batch's transaction opens: on a
        # new install it is written to the database first (SQLite has one writer).
        self.conversations.edition()
        try:
            return self._receive_all(inbounds)
        except Exception as exc:
            if is_outage(exc):
                raise
            if len(inbounds) == 1:
                log.exception("sms via %s could not be processed", inbounds[0].provider)
                return [Handled("failed")]
        log.warning("a batch of %d texts failed; processing them one at a time", len(inbounds))
        return [handled for inbound in inbounds for handled in self.receive_batch([inbound])]

    def _receive_all(self, inbounds: list[Inbound]) -> list[Handled]:
        # Each text's number and keyword, worked out once: recording and handling use both.
        found = [(inbound, to_e164(inbound.phone), keywords.match(inbound.text)) for inbound in inbounds]
        states = _States(
            self.redis, self.session_ttl, [phone_key(phone, self.secret) for _, phone, _ in found if phone is not None]
        )
        results = []
        with self.database.session() as db:
            # Her member row once per batch, not once per text (a member texting a
            # conversation sends several texts a minute).
            known = members.by_phones(db, {phone for _, phone, _ in found if phone is not None})
            firsts = self._record(db, [text for text in found if text[1] is not None], known)
            self._welcome_newcomers(db, found, firsts, known)
            # A text that is no keyword may answer a poll: which polls reached its
            # senders, in one query for the batch.
            ballots = self.ballots.round(
                db, [known[phone] for _, phone, keyword in found if keyword is None and phone in known], utcnow()
            )
            for inbound, phone, keyword in found:
                if phone is None:  # not a valid number anywhere: no member, and no reply
                    log.info("sms via %s from an invalid number %s ignored", inbound.provider, mask(inbound.phone))
                    results.append(Handled("ignored"))
                    continue
                first = (inbound.provider, inbound.provider_message_id) in firsts
                handled = None
                if keyword is None and ballots is not None:
                    handled = self._poll_answer(db, ballots, inbound, known.get(phone), first)
                if handled is None:
                    handled = self._receive(
                        db, inbound, phone, phone_key(phone, self.secret), keyword, states, known, first
                    )
                results.append(handled)
            if ballots is not None:
                ballots.cast()
            # The replies' rows were added unflushed, so the batch inserts them together.
            db.flush()
            for handled in results:
                handled.replies = [row if isinstance(row, int) else row.id for row in handled.replies]
        states.save()
        return results

    def _receive(
        self,
        db,
        inbound: Inbound,
        phone: str,
        key: str,
        keyword: str | None,
        states: "_States",
        known: dict[str, Member],
        first: bool,
    ) -> Handled:
        if not first:
            return Handled("duplicate", keyword)
        member = known[phone]  # a number new to us got its row in _welcome_newcomers
        if member.opted_out_at is not None and keyword != "start":
            return Handled("opted_out", keyword)  # she asked to hear nothing more
        handled, state = self._respond(db, member, keyword, inbound.text, key, states)
        if state is False:
            member.sms_active_at = None
        elif state is not None:
            member.sms_active_at = utcnow()
        states.keep(key, state)
        return handled

    # --------------------------------------------------------------- replies

    def _respond(self, db, member: Member, keyword: str | None, text: str, key: str, states: "_States"):
        """Return (Handled, state to keep: a State, None to keep as is, or False to forget)."""
        state = states.get(key)
        # Mid-registration, the language she just chose is not stored yet: use it.
        lang = state.language if state is not None else (member.language or self.default_language)
        if keyword == "stop":
            member.opted_out_at = utcnow()
            log.info("member %s opted out by SMS", mask(member.phone))
            return self._reply(db, member, Text("sms.stopped"), lang, keyword), False
        if keyword == "start":
            if member.opted_out_at is not None:
                member.opted_in_at = utcnow()
            member.opted_out_at = None
            return self._reply(db, member, Text("sms.started"), lang, keyword), None
        if keyword == "help":
            return self._reply(db, member, Text("sms.help"), lang, keyword), None
        if keyword in FLOW_FOR:
            if keyword in NEEDS_REGISTRATION and not member.registered:
                return self._reply(db, member, Text("sms.register_first"), lang, keyword), None
            return self._show(
                db,
                member,
                self.conversations.start(member.phone, CHANNEL, FLOW_FOR[keyword], db=db, member=member),
                keyword,
            )
        if state is not None:
            try:
                return self._show(
                    db,
                    member,
                    self.conversations.answer(member.phone, CHANNEL, state, text, db=db, member=member),
                    None,
                )
            except (StateError, FlowError) as exc:
                log.warning("sms conversation unusable for %s (%s)", mask(member.phone), exc)
        if member.registered:  # a question for the organisers: their inbox keeps it
            inbox.keep(db, member, text, utcnow())
        if states.first_help_today(key):
            return self._reply(db, member, Text("sms.help"), lang, None), False
        return Handled("kept" if member.registered else "ignored"), False

    def _poll_answer(
        self, db, ballots: polls.BallotRound, inbound: Inbound, member: Member | None, first: bool
    ) -> Handled | None:
        """Store ``inbound`` as an answer to a poll sent to her, or return None when
        it is not one (then it goes the usual way)."""
        recent = ballots.polls_for(member) if member is not None else []
        if not recent:
            return None
        now = utcnow()
        answer = poll_answer.split(inbound.text)
        coded = next(((p, at) for p, at in recent if p.code == answer.code), None)
        if coded is not None:
            (poll, _), body = coded, answer.body
        else:
            # Her most recently sent open poll; failing that, the latest closed one.
            poll, sent_at = next(((p, at) for p, at in recent if p.is_open(now)), recent[0])
            active = member.sms_active_at
            if active is not None and active > sent_at and active > now - timedelta(seconds=self.session_ttl):
                return None  # the conversation she is in was asked after the poll
            body = inbound.text  # no code of hers: the whole text is the answer
        if not first:
            return Handled("duplicate")
        outcome = polls.answer(ballots, poll, member, body, inbound.text, CHANNEL, now)
        replies = []
        if outcome.reply is not None:
            catalog = self.conversations.edition().catalog
            replies.append(outbox.add(db, member, catalog.render(outcome.reply, member.language), flush=False))
        return Handled(outcome.result, None, replies)

    def _show(self, db, member: Member, result: Step, keyword: str | None):
        body = render(result.screen, self.conversations.edition(result.state).catalog, result.state.language)
        # The reply first, then any text the flow sent with it (where to join ...).
        replies = [outbox.add(db, member, body, flush=False)] + self.conversations.texts_sent(db)
        return Handled("replied", keyword, replies), (False if result.final else result.state)

    def _reply(self, db, member: Member, text: Text, lang: str, keyword: str | None) -> Handled:
        body = self.conversations.edition().catalog.render(text, lang)
        return Handled("replied", keyword, [outbox.add(db, member, body, flush=False)])

    # --------------------------------------------------------------- storage

    @staticmethod
    def _record(db, texts: list[tuple[Inbound, str, str | None]], known: dict[str, Member]) -> set[tuple[str, str]]:
        """Record the batch's inbound messages in one INSERT; return the (provider, id)
        of those recorded now. One recorded before is a replay, and is not returned:
        the unique key decides, even between concurrent copies."""
        if not texts:
            return set()
        now = utcnow()
        rows = [
            {
                "provider": inbound.provider,
                "provider_message_id": inbound.provider_message_id,
                "keyword": keyword,
                "member_id": known[phone].id if phone in known else None,
                "received_at": now,
            }
            for inbound, phone, keyword in texts
        ]
        # Parameters as a list (SQLAlchemy's "insertmanyvalues"): the statement is compiled
        # once and cached, where .values(rows) would compile anew for each batch size.
        inserted = db.connection().execute(_inbound_insert(db.get_bind().dialect.name), rows)
        return {(provider, message_id) for provider, message_id in inserted}

    def _welcome_newcomers(
        self,
        db,
        found: list[tuple[Inbound, str | None, str | None]],
        firsts: set[tuple[str, str]],
        known: dict[str, Member],
    ) -> None:
        """Make rows, all at once, for the numbers new to us that sent a text in this
        batch (a redelivery makes nobody: the first copy did, or she was erased
        since), and link their texts, recorded a moment ago without a member. Only
        the number is kept, so we can reply and a STOP is remembered; she is not
        registered until she consents."""
        texts = [
            (inbound, phone)
            for inbound, phone, _ in found
            if phone is not None and phone not in known and (inbound.provider, inbound.provider_message_id) in firsts
        ]
        if not texts:
            return
        known.update(
            members.first_contacts(db, {phone for _, phone in texts}, language=self.default_language, source="sms")
        )
        db.connection().execute(
            _link_member(),
            [
                {"b_provider": inbound.provider, "b_id": inbound.provider_message_id, "member_id": known[phone].id}
                for inbound, phone in texts
                if phone in known
            ],
        )


class _States:
    """A batch's SMS conversation states, and whether each member was sent the help
    text today: read in one MGET before, written in one pipeline after the batch
    commits (a state must not outlive a rolled-back batch)."""

    HELPED_FOR_S = 86400

    def __init__(self, redis, ttl: int, keys: list[str]):
        self.redis, self.ttl = redis, ttl
        unique = list(dict.fromkeys(keys))
        raw = (
            redis.mget([f"sms:conv:{key}" for key in unique] + [f"sms:helped:{key}" for key in unique])
            if unique
            else []
        )
        self.states: dict[str, State | None] = {key: _decode(value) for key, value in zip(unique, raw)}
        self.helped = {key for key, value in zip(unique, raw[len(unique) :]) if value}
        self.changed: dict[str, State | bool] = {}
        self.newly_helped: list[str] = []

    def first_help_today(self, key: str) -> bool:
        """True once a day per member: the unprompted help text, so two automated
        senders cannot loop on each other."""
        if key in self.helped:
            return False
        self.helped.add(key)
        self.newly_helped.append(key)
        return True

    def get(self, key: str) -> State | None:
        return self.states.get(key)

    def keep(self, key: str, state) -> None:
        """``state``: a State to keep, None to leave as it is, False to forget."""
        if state is None:
            return
        self.states[key] = state or None
        self.changed[key] = state

    def save(self) -> None:
        if not self.changed and not self.newly_helped:
            return
        pipe = self.redis.pipeline(transaction=False)
        for key in self.newly_helped:
            pipe.set(f"sms:helped:{key}", 1, nx=True, ex=self.HELPED_FOR_S)
        for key, state in self.changed.items():
            if state is False:
                pipe.delete(f"sms:conv:{key}")
            else:
                pipe.set(f"sms:conv:{key}", json.dumps(state.to_dict(copy=False), ensure_ascii=False), ex=self.ttl)
        pipe.execute()


def _decode(raw) -> State | None:
    if not raw:
        return None
    try:
        return State.from_dict(json.loads(raw))
    except (TypeError, ValueError, KeyError):
        return None
