"""Named actions that flows may call, and the effects the engine asks for.

Flows name an action (``action: enrol``); the engine hands back an ``ActionCall``
and this registry runs it against the database. Code never lives in YAML.
To add an action, decorate a function ``(context, call) -> ActionResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.engine.events import (
    ActionCall,
    ActionResult,
    FinishQuiz,
    RecordAnswer,
    localized,
    moment,
    prompt_ref,
)
from gateway.content import quiz, survey
from gateway.errors import ActionError
from gateway.messaging import reminders
from gateway.polls import poll as polls
from gateway.store import live_texts, members, quizzes, schedule, surveys
from gateway.store.models import Enrolment, Member, Poll


@dataclass
class ActionContext:
    """What an action may use: the open transaction and who is on the line."""

    db: Session
    phone: str
    channel: str
    now: datetime
    _member: Member | None = field(default=None, repr=False)

    def member(self) -> Member | None:
        if self._member is None:
            self._member = members.by_phone(self.db, self.phone)
        return self._member


Handler = Callable[[ActionContext, ActionCall], ActionResult]


class ActionRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self._handlers[name] = handler
            return handler

        return decorate

    def names(self) -> set[str]:
        return set(self._handlers)

    def run(self, context: ActionContext, call: ActionCall) -> ActionResult:
        handler = self._handlers.get(call.name)
        if handler is None:
            raise ActionError(f"no action named {call.name!r}; known: {', '.join(sorted(self._handlers))}")
        return handler(context, call)

    def apply(self, context: ActionContext, effect) -> None:
        """Carry out one effect the engine emitted."""
        member = context.member()
        member_id = member.id if member else None
        if isinstance(effect, RecordAnswer):
            quizzes.record_answer(context.db, effect, member_id, context.channel, context.now)
        elif isinstance(effect, FinishQuiz):
            quizzes.finish(context.db, effect, member_id, context.channel, context.now)
        else:
            raise ActionError(f"no handler for effect {type(effect).__name__}")


ACTIONS = ActionRegistry()


@ACTIONS.register("save_member")
def save_member(context: ActionContext, call: ActionCall) -> ActionResult:
    # Her language is the conversation's, whether she chose it or kept the default.
    answers = {**call.vars, "language": call.vars.get("language") or call.language}
    member = members.save_registration(context.db, context.phone, answers, context.now)
    context._member = member
    return ActionResult("ok", member=members.snapshot(member))


@ACTIONS.register("set_language")
def set_language(context: ActionContext, call: ActionCall) -> ActionResult:
    member = members.set_language(context.db, context.phone, call.vars.get("language") or call.language)
    return ActionResult("ok", member=members.snapshot(member) if member else None)


@ACTIONS.register("find_next_session")
def find_next_session(context: ActionContext, call: ActionCall) -> ActionResult:
    member = context.member()
    found = schedule.next_for(context.db, member, context.now) if member else None
    if found is None:
        return ActionResult("none")
    return ActionResult(
        "found",
        vars={
            "session_id": found.id,
            "title": localized(found.titles, live_texts.session_title_key(found.id)),
            "kind": prompt_ref(f"kind.{found.kind}"),
            "when": moment(found.starts_at, "short"),  # the screen's; the SMS says it in full
            "when_long": moment(found.starts_at),
            "where": schedule.where_to_join(found),
        },
    )


@ACTIONS.register("enrol")
def enrol(context: ActionContext, call: ActionCall) -> ActionResult:
    member, session_id = context.member(), call.vars.get("session_id")
    if member is None or not isinstance(session_id, int):
        return ActionResult("missing")
    return ActionResult(schedule.enrol(context.db, member, session_id, context.channel))


@ACTIONS.register("open_quizzes")
def open_quizzes(context: ActionContext, call: ActionCall) -> ActionResult:
    """The quizzes open today (the ``quizzes`` flow lists them in ``params``), as menu
    options; straight into the quiz when only one is. A quiz that follows a session
    she signed up for comes first."""
    today = context.now.astimezone(ZoneInfo(call.params.get("timezone") or "UTC")).date().isoformat()
    listed = quiz.open_on(list(call.params.get("quizzes", ())), today)
    if not listed:
        return ActionResult("none")
    sessions = {entry["session"] for entry in listed if entry.get("session")}
    member = context.member() if sessions else None  # a query: only when a quiz follows a session
    if member is not None:
        mine = set(
            context.db.scalars(
                select(Enrolment.session_id).where(Enrolment.member_id == member.id, Enrolment.session_id.in_(sessions))
            )
        )
        listed.sort(key=lambda entry: entry.get("session") not in mine)  # stable: hers first
    if len(listed) == 1:
        return ActionResult(listed[0]["flow"])
    return ActionResult(
        "some", vars={"quizzes": [{"value": entry["flow"], "label": prompt_ref(entry["title"])} for entry in listed]}
    )


@ACTIONS.register("chosen_quiz")
def chosen_quiz(context: ActionContext, call: ActionCall) -> ActionResult:
    """Into the quiz she picked from the list."""
    return ActionResult(str(call.vars.get("quiz") or "none"))


@ACTIONS.register("open_surveys")
def open_surveys(context: ActionContext, call: ActionCall) -> ActionResult:
    """The surveys open today (the ``surveys`` flow lists them in ``params``) and, if
    she has any, the polls sent to her, as menu options; straight in when there is
    one thing to answer. A survey that follows a session she signed up for comes first."""
    today = context.now.astimezone(ZoneInfo(call.params.get("timezone") or "UTC")).date().isoformat()
    listed = quiz.open_on(list(call.params.get("surveys", ())), today)
    if context.channel not in call.params.get("channels", (context.channel,)):
        listed = []  # a call cannot take typed answers: the polls, as before surveys
    if listed:
        closed = surveys.closed(context.db, [entry["survey"] for entry in listed])
        listed = [entry for entry in listed if entry["survey"] not in closed]
    member = context.member()
    if listed and member is not None and any(entry.get("session") for entry in listed):
        mine = set(
            context.db.scalars(
                select(Enrolment.session_id).where(
                    Enrolment.member_id == member.id,
                    Enrolment.session_id.in_({entry["session"] for entry in listed if entry.get("session")}),
                )
            )
        )
        listed.sort(key=lambda entry: entry.get("session") not in mine)
    if not listed:
        return ActionResult(survey.POLLS)  # the polls flow lists hers, or says there are none
    has_polls = bool(member and polls.open_for(context.db, member.id, context.now))
    if len(listed) == 1 and not has_polls:
        return ActionResult(listed[0]["flow"])
    options = [{"value": entry["flow"], "label": prompt_ref(entry["title"])} for entry in listed]
    if has_polls:
        options.append({"value": survey.POLLS, "label": prompt_ref("survey.polls_entry")})
    return ActionResult("some", vars={"surveys": options})


@ACTIONS.register("chosen_survey")
def chosen_survey(context: ActionContext, call: ActionCall) -> ActionResult:
    """Into the survey (or the polls) she picked from the list."""
    return ActionResult(str(call.vars.get("survey") or survey.POLLS))


@ACTIONS.register("save_survey")
def save_survey(context: ActionContext, call: ActionCall) -> ActionResult:
    """Her answers, kept once she has given them all; the conversation forgets them
    as they are saved (a closed survey's answers are refused, and forgotten too)."""
    name = str(call.params.get("survey"))
    held = list(call.params.get("answers", ()))
    forget = {var: None for var in held}
    if surveys.closure(context.db, name) is not None:
        return ActionResult("closed", vars=forget)
    surveys.save(
        context.db,
        name,
        context.member(),
        [call.vars.get(var) for var in held],
        bool(call.params.get("sensitive")),
        context.channel,
        context.now,
    )
    return ActionResult("saved", vars=forget)


@ACTIONS.register("open_polls")
def open_polls(context: ActionContext, call: ActionCall) -> ActionResult:
    """The member's open polls, as menu options; straight to the question if one."""
    member = context.member()
    found = polls.open_for(context.db, member.id, context.now) if member else []
    if not found:
        return ActionResult("none")
    if len(found) == 1:
        return ActionResult("one", vars={"poll_id": found[0].id})
    return ActionResult(
        "some",
        vars={
            "polls": [
                {
                    "value": poll.id,
                    "label": localized({lang: f"{poll.code}: {text}" for lang, text in poll.questions.items()}),
                }
                for poll in found
            ]
        },
    )


@ACTIONS.register("load_poll")
def load_poll(context: ActionContext, call: ActionCall) -> ActionResult:
    poll = context.db.get(Poll, call.vars.get("poll_id") or 0)
    if poll is None or not poll.is_open(context.now):
        return ActionResult("closed")
    return ActionResult(
        "open",
        vars={
            "code": poll.code,
            "question": localized(poll.questions, live_texts.poll_question_key(poll.id)),
            "poll_options": [
                {"value": n, "label": localized(option, live_texts.poll_option_key(poll.id, n))}
                for n, option in enumerate(poll.options, start=1)
            ],
        },
    )


@ACTIONS.register("vote")
def vote(context: ActionContext, call: ActionCall) -> ActionResult:
    member, poll = context.member(), context.db.get(Poll, call.vars.get("poll_id") or 0)
    option = call.vars.get("choice")
    if member is None or poll is None or not poll.is_open(context.now) or not isinstance(option, int):
        return ActionResult("closed")
    polls.vote(context.db, poll, member, option, context.channel, context.now)
    return ActionResult("voted", vars={"choice": localized(poll.options[option - 1])})


@ACTIONS.register("load_reminder")
def load_reminder(context: ActionContext, call: ActionCall) -> ActionResult:
    """The session a reminder call is about (``message_id`` is the call's outbox row)."""
    found = reminders.session_for_message(context.db, call.vars.get("message_id"))
    if found is None or found.cancelled_at is not None:
        return ActionResult("missing")
    return ActionResult(
        "found",
        vars={
            "session_id": found.id,
            "title": localized(found.titles, live_texts.session_title_key(found.id)),
            "kind": prompt_ref(f"kind.{found.kind}"),
            "when": moment(found.starts_at),
        },
    )


@ACTIONS.register("confirm_attendance")
def confirm_attendance(context: ActionContext, call: ActionCall) -> ActionResult:
    """ "I will come": stored on her enrolment (made now if she had none)."""
    member, session_id = context.member(), call.vars.get("session_id")
    if member is None or not isinstance(session_id, int):
        return ActionResult("missing")
    outcome = schedule.enrol(context.db, member, session_id, context.channel)
    if outcome in ("full", "missing"):
        return ActionResult(outcome)
    schedule.confirm(context.db, member, session_id, context.now)
    return ActionResult("confirmed")
