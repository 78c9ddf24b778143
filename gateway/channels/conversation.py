"""Drives the pure engine for one member: runs what it asks, in one transaction.

``step`` only returns data. Here each ``ActionCall`` is run and its result fed
back, and each effect is applied, until the engine has a screen to show. All
database writes of one hop commit together, or not at all.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from gateway.channels.actions import ActionContext, ActionRegistry
from gateway.engine import ActionResult, Input, Recorded, Start, State, Step, step
from gateway.engine.model import FlowBook
from gateway.errors import FlowError
from gateway.store import members
from gateway.store.database import Database
from gateway.store.models import utcnow

# An action that leads to another action is fine; a chain this long is a bug.
MAX_CALLS_PER_HOP = 16


class Conversations:
    def __init__(self, book: FlowBook, database: Database, actions: ActionRegistry,
                 default_language: str):
        self.book = book
        self.database = database
        self.actions = actions
        self.default_language = default_language

    def start(self, phone: str, channel: str, flow: str = "main", db=None, vars=None) -> Step:
        """Begin ``flow`` (with ``vars`` known already). With ``db`` given, run inside
        that open transaction."""
        with self._transaction(db) as session:
            context = ActionContext(session, phone, channel, utcnow())
            member = context.member()
            language = member.language if member and member.language else self.default_language
            event = Start(members.snapshot(member), language, uuid.uuid4().hex[:16], flow, dict(vars or {}))
            return self._drive(context, step(self.book, None, event))

    def answer(self, phone: str, channel: str, state: State, text: str, db=None) -> Step:
        with self._transaction(db) as session:
            context = ActionContext(session, phone, channel, utcnow())
            return self._drive(context, step(self.book, state, Input(text)))

    def recorded(self, phone: str, channel: str, state: State, url: str, db=None) -> Step:
        """A voice recording answers the free-text input the call is at."""
        with self._transaction(db) as session:
            context = ActionContext(session, phone, channel, utcnow())
            return self._drive(context, step(self.book, state, Recorded(url)))

    @contextmanager
    def _transaction(self, db):
        if db is not None:
            yield db
        else:
            with self.database.session() as session:
                yield session

    def _drive(self, context: ActionContext, result: Step) -> Step:
        for _ in range(MAX_CALLS_PER_HOP):
            for effect in result.effects:
                self.actions.apply(context, effect)
            if result.call is None:
                return result
            outcome: ActionResult = self.actions.run(context, result.call)
            result = step(self.book, result.state, outcome)
        raise FlowError(f"more than {MAX_CALLS_PER_HOP} actions in one hop near "
                        f"{result.state.flow}:{result.state.node}")
