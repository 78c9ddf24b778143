"""One inbound SMS, from provider record to queued reply.

A keyword starts a flow (JOIN, NEXT, QUIZ, LANG), answers at once (HELP) or
changes consent (STOP, START). A text starting with a poll's code (``P4 2``)
answers that poll. Anything else answers whichever we asked her last: her open
SMS conversation (the same YAML flows as USSD, one screen per SMS, state kept in
Redis for a day) or the latest poll sent to her. With neither, she gets the help
text, at most once a day, so two automated senders cannot loop on each other.

The inbound row (unique per provider message id), the flow's writes and the
outbox rows commit in one transaction; replies are queued for the worker after.

Poll answers, which come in floods when a poll goes out, take a shorter path:
the decision is read first, without the per-phone lock, then one short write
transaction stores the inbound row and the vote. SQLite serialises writers, so
the time a transaction holds the write lock is what limits replies per second.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from redis.exceptions import LockError
from sqlalchemy import update

from gateway import broker
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
from gateway.services import Services
from gateway.store import members
from gateway.store.database import upsert_dialect
from gateway.store.models import InboundMessage, Member, utcnow

log = logging.getLogger(__name__)
CHANNEL = "sms"
FLOW_FOR = {"join": "register", "next": "next_session", "quiz": "safety_quiz", "lang": "language"}
NEEDS_REGISTRATION = {"next", "quiz"}


@dataclass
class Handled:
    """What became of an inbound SMS (for logs and tests)."""

    outcome: str  # replied | duplicate | ignored | opted_out | voted | invalid | closed
    keyword: str | None = None
    replies: list[int] = field(default_factory=list)  # outbox ids queued


@lru_cache(maxsize=4)
def _inbound_insert(dialect_name: str):
    # RETURNING says whether a row went in (a row count is not reliable across drivers).
    return (upsert_dialect(dialect_name).insert(InboundMessage).on_conflict_do_nothing()
            .returning(InboundMessage.id))


class SmsService:
    def __init__(self, services: Services, conversations: Conversations):
        config = self.config = services.config
        self.catalog, self.conversations, self.database = services.catalog, conversations, services.db
        self.redis, self.queues, self.secret = services.redis, services.queues, config.secret_key
        self.default_language, self.session_ttl = config.default_language, config.sms_session_ttl
        self.ballots = polls.Ballots(services.db)

    def receive(self, inbound: Inbound) -> Handled:
        phone = to_e164(inbound.phone)
        if phone is None:  # not a valid number anywhere: no member, and no reply
            log.info("sms via %s from an invalid number %s ignored", inbound.provider,
                     mask(inbound.phone))
            return Handled("ignored")
        key = phone_key(phone, self.secret)
        keyword = keywords.match(inbound.text)
        if keyword is None:
            handled = self._poll_answer(inbound, phone)
            if handled is not None:
                return handled
        # Two texts from one member at once would both read and write her conversation.
        lock = self.redis.lock(f"sms:lock:{key}", timeout=30, blocking_timeout=5)
        locked = lock.acquire()
        if not locked:
            log.warning("sms from %s waited 5 s for an earlier one; going ahead", mask(phone))
        try:
            return self._receive(inbound, phone, key, keyword)
        finally:
            if locked:
                try:
                    lock.release()
                except LockError:  # held past its timeout; another message took it over
                    pass

    def _receive(self, inbound: Inbound, phone: str, key: str, keyword: str | None) -> Handled:
        with self.database.session() as db:
            member = members.by_phone(db, phone)
            if not self._first_delivery(db, inbound, keyword, member.id if member else None):
                return Handled("duplicate", keyword)
            if member is None:
                member = self._new_contact(db, phone)
                db.flush()
                db.execute(update(InboundMessage).where(
                    InboundMessage.provider == inbound.provider,
                    InboundMessage.provider_message_id == inbound.provider_message_id).values(member_id=member.id))
            if member.opted_out_at is not None and keyword != "start":
                return Handled("opted_out", keyword)  # she asked to hear nothing more
            handled, state = self._respond(db, member, keyword, inbound.text, key)
            if state is False:
                member.sms_active_at = None
            elif state is not None:
                member.sms_active_at = utcnow()
        self._keep_state(key, state)
        self._queue(handled.replies)
        return handled

    def _queue(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            broker.enqueue_reply(self.queues, message_id, self.config)

    # --------------------------------------------------------------- replies

    def _respond(self, db, member: Member, keyword: str | None, text: str, key: str):
        """Return (Handled, state to keep: a State, None to keep as is, or False to forget)."""
        state = self._open_conversation(key)
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
            return self._show(db, member, self.conversations.start(
                member.phone, CHANNEL, FLOW_FOR[keyword], db=db), keyword)
        if state is not None:
            try:
                return self._show(db, member, self.conversations.answer(
                    member.phone, CHANNEL, state, text, db=db), None)
            except (StateError, FlowError) as exc:
                log.warning("sms conversation unusable for %s (%s)", mask(member.phone), exc)
        if self.redis.set(f"sms:helped:{key}", 1, nx=True, ex=86400):
            return self._reply(db, member, Text("sms.help"), lang, None), False
        return Handled("ignored"), False

    def _poll_answer(self, inbound: Inbound, phone: str) -> Handled | None:
        """Store ``inbound`` as an answer to a poll sent to her, or return None when
        it is not one (then it goes the usual way)."""
        now = utcnow()
        with self.database.session() as db:
            found = self.ballots.voter(db, phone, now)
            if found is None:
                return None
            member, recent = found
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
            # Writing starts here: SQLite's write lock is held from this insert to commit.
            if not self._first_delivery(db, inbound, None, member.id):
                return Handled("duplicate")
            self.ballots.refresh(db, poll)  # closed a moment ago? (the poll list was cached)
            outcome = polls.answer(db, poll, member, body, inbound.text, CHANNEL, now)
            replies = []
            if outcome.reply is not None:
                replies.append(outbox.add(db, member, self.catalog.render(outcome.reply, member.language)).id)
        self._queue(replies)
        return Handled(outcome.result, None, replies)

    def _show(self, db, member: Member, result: Step, keyword: str | None):
        body = render(result.screen, self.catalog, result.state.language)
        # The reply first, then any text the flow sent with it (where to join ...).
        replies = [outbox.add(db, member, body).id] + self.conversations.texts_sent(db)
        return Handled("replied", keyword, replies), (False if result.final else result.state)

    def _reply(self, db, member: Member, text: Text, lang: str, keyword: str | None) -> Handled:
        body = self.catalog.render(text, lang)
        return Handled("replied", keyword, [outbox.add(db, member, body).id])

    # --------------------------------------------------------------- storage

    @staticmethod
    def _first_delivery(db, inbound: Inbound, keyword: str | None, member_id: int | None) -> bool:
        """Record the inbound message; False if it was recorded before (a replay).
        The unique key decides, even between concurrent copies."""
        inserted = db.connection().execute(_inbound_insert(db.get_bind().dialect.name), {
            "provider": inbound.provider, "provider_message_id": inbound.provider_message_id,
            "keyword": keyword, "member_id": member_id, "received_at": utcnow()})
        return inserted.first() is not None

    def _new_contact(self, db, phone: str) -> Member:
        """Someone not yet a member texted us: keep only the number, so we can reply
        and so a STOP is remembered. They are not registered until they consent."""
        return members.first_contact(db, phone, language=self.default_language, source="sms")

    def _open_conversation(self, key: str) -> State | None:
        raw = self.redis.get(f"sms:conv:{key}")
        if not raw:
            return None
        try:
            return State.from_dict(json.loads(raw))
        except (TypeError, ValueError, KeyError):
            return None

    def _keep_state(self, key: str, state) -> None:
        if state is None:
            return
        if state is False:
            self.redis.delete(f"sms:conv:{key}")
        else:
            self.redis.set(f"sms:conv:{key}", json.dumps(state.to_dict(), ensure_ascii=False),
                           ex=self.session_ttl)
