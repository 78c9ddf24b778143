"""Drives the pure engine for one member: runs what it asks, in one transaction.

``step`` only returns data. Here each ``ActionCall`` is run and its result fed
back, and each effect is applied, until the engine has a screen to show. All
database writes of one hop commit together, or not at all.

A ``SendSms`` effect becomes an outbox row in that same transaction; its job is
queued only once the transaction has committed, so the worker never looks for a
row that is not there yet. When the caller owns the transaction (SMS passes its
own ``db``), the caller queues them: ``texts_sent(db)`` hands over their ids.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterable

from gateway import broker
from gateway.channels.actions import ACTIONS, ActionContext, ActionRegistry
from gateway.content.edition import Edition
from gateway.content.library import Library
from gateway.engine import ActionResult, Input, Recorded, SendSms, Start, State, Step, step
from gateway.errors import FlowError
from gateway.messaging import outbox
from gateway.phone import is_fictional
from gateway.store import members
from gateway.store.database import Database
from gateway.store.models import Member, utcnow
from gateway.services import Services


def conversations_for(services: Services) -> "Conversations":
    """The conversations every channel shares, wired to this install: its actions,
    its prompts, the replies queue for texts a flow sends, and its settings."""
    config = services.config
    return Conversations(
        services.library,
        services.db,
        ACTIONS,
        config.default_language,
        queue_texts=lambda ids: [broker.enqueue_reply(services.queues, i, config) for i in ids],
        settings={"reminder_calls": config.asks_reminder_channel},
    )


# An action that leads to another action is fine; a chain this long is a bug.
MAX_CALLS_PER_HOP = 16
_TEXTS = "conversation_texts"  # key in the SQLAlchemy session's ``info``


class Conversations:
    def __init__(
        self,
        library: Library,
        database: Database,
        actions: ActionRegistry,
        default_language: str,
        queue_texts: Callable[[Iterable[int]], Any] | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.library = library
        self.database = database
        self.actions = actions
        self.default_language = default_language
        self.queue_texts = queue_texts
        # What flows may test about this install (``vars.reminder_calls``), given to
        # every conversation as it starts, with ``vars.channel`` (ussd, sms, voice).
        self.settings = {**dict(settings or {}), "channel": None}

    def edition(self, state: State | None = None) -> Edition:
        """The content ``state``'s conversation runs on (the published one for a new one)."""
        return self.library.current() if state is None else self.library.edition(state.edition)

    def start(
        self, phone: str, channel: str, flow: str = "main", db=None, vars=None, member: Member | None = None
    ) -> Step:
        """Begin ``flow`` (with ``vars`` known already) on the published content. With
        ``db`` given, run inside that open transaction; with ``member``, her row loaded
        in it already (SMS loads a batch's members in one query: a query per text was
        a fifth of the drainer's time)."""
        edition = self.library.current()
        if is_fictional(phone):  # an organiser's test number: the draft she previews, if any
            edition = self.library.preview(phone) or edition
        with self._transaction(db) as session:
            context = ActionContext(session, phone, channel, utcnow(), member)
            member = context.member()
            language = member.language if member and member.language else self.default_language
            event = Start(
                members.snapshot(member),
                language,
                uuid.uuid4().hex[:16],
                flow,
                {**self.settings, "channel": channel, **dict(vars or {})},
                edition.number,
            )
            return self._drive(context, step(edition.book, None, event), edition)

    def answer(self, phone: str, channel: str, state: State, text: str, db=None, member: Member | None = None) -> Step:
        edition = self.edition(state)
        with self._transaction(db) as session:
            context = ActionContext(session, phone, channel, utcnow(), member)
            return self._drive(context, step(edition.book, state, Input(text)), edition)

    def recorded(self, phone: str, channel: str, state: State, url: str, db=None) -> Step:
        """A voice recording answers the free-text input the call is at."""
        edition = self.edition(state)
        with self._transaction(db) as session:
            context = ActionContext(session, phone, channel, utcnow())
            return self._drive(context, step(edition.book, state, Recorded(url)), edition)

    @staticmethod
    def texts_sent(db) -> list[int]:
        """Outbox ids of texts the flow sent inside the caller's transaction ``db``;
        the caller queues them once it has committed."""
        return db.info.pop(_TEXTS, [])

    @contextmanager
    def _transaction(self, db):
        if db is not None:
            yield db
            return
        with self.database.session() as session:
            yield session
            sent = self.texts_sent(session)
        if sent and self.queue_texts is not None:
            self.queue_texts(sent)  # committed by now

    def _drive(self, context: ActionContext, result: Step, edition: Edition) -> Step:
        for _ in range(MAX_CALLS_PER_HOP):
            for effect in result.effects:
                if isinstance(effect, SendSms):
                    self._send_text(context, effect, result.state.language, edition)
                else:
                    self.actions.apply(context, effect)
            if result.call is None:
                return result
            outcome: ActionResult = self.actions.run(context, result.call)
            result = step(edition.book, result.state, outcome)
        raise FlowError(
            f"more than {MAX_CALLS_PER_HOP} actions in one hop near {result.state.flow}:{result.state.node}"
        )

    def _send_text(self, context: ActionContext, effect: SendSms, language: str, edition: Edition) -> None:
        member = context.member()
        if member is None or member.opted_out_at is not None:
            return  # nobody to text, or she asked for silence
        body = edition.catalog.render(effect.text, language)
        context.db.info.setdefault(_TEXTS, []).append(outbox.add(context.db, member, body).id)
