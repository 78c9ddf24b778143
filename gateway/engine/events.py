"""The data the engine speaks: events in, a Step out.

Everything here is plain data. A Step says what to show and what the caller must
do (``call``: run a named action and feed its result back; ``effects``: writes to
carry out). The engine never does either itself.

Values placed in prompt variables stay JSON-friendly so that a state can be
stored in Redis as it is. Besides str/int, a variable may hold one of these
shapes, which the channel renderer resolves in the member's language:

- ``{"text": "prompt.key"}``: another prompt;
- ``{"list": [value, ...]}``: values joined with commas;
- ``{"i18n": {"lo": "...", "en": "..."}}``: a text given per language;
- ``{"datetime": "2026-11-27T07:00:00+00:00"}``: a moment, shown in local time
  (with ``"style": "short"``, in the catalog's ``format.datetime_short``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


def prompt_ref(key: str) -> dict:
    return {"text": key}


def localized(texts: Mapping[str, str], audio: str | None = None) -> dict:
    """Text in several languages; ``audio`` names its recording (``live.session.4.title``),
    played on calls in place of the words."""
    value: dict = {"i18n": dict(texts)}
    if audio:
        value["audio"] = audio
    return value


def moment(when, style: str | None = None) -> dict:
    """A timezone-aware datetime as a prompt variable; ``style="short"`` for screens."""
    value = {"datetime": when.isoformat()}
    if style:
        value["style"] = style
    return value


@dataclass(frozen=True)
class Text:
    """A prompt key plus the variables its template may use."""

    key: str
    vars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    """One numbered choice on a screen."""

    key: str
    label: Text


@dataclass(frozen=True)
class Screen:
    """What the member sees next, before any channel has turned it into text.

    ``expects`` tells channels what kind of answer is wanted: ``choice`` (a number
    from ``options``), ``choices`` (several of them in one answer, ``1 3``), ``text``
    (free text), ``any`` (any key continues) or ``none`` (``final`` screens).
    """

    prompt: Text
    options: tuple[Option, ...] = ()
    notice: Text | None = None
    header: Text | None = None
    final: bool = False
    expects: str = "choice"
    input_kind: str | None = None
    voice_input: str | None = None  # for free text on a call: "record" or "digits"


# ----------------------------------------------------------------- events in


@dataclass(frozen=True)
class Start:
    """A member begins a conversation at ``flow``'s start node.

    ``member`` is a snapshot of what the store knows (``registered``, ``name``,
    ``language``, ``topics`` ...); ``conversation_id`` is chosen by the caller so the
    engine needs no randomness.
    """

    member: Mapping[str, Any]
    language: str
    conversation_id: str
    flow: str = "main"
    vars: Mapping[str, Any] = field(default_factory=dict)  # what the caller knows already
    edition: int = 0  # the content version the conversation runs on (the caller's to keep)


@dataclass(frozen=True)
class Input:
    """What the member typed (already stripped of channel navigation)."""

    text: str


@dataclass(frozen=True)
class Recorded:
    """A voice recording answering a free-text input; its URL is kept in place of text."""

    url: str


@dataclass(frozen=True)
class ActionResult:
    """The outcome of an ``ActionCall``, fed back by the caller.

    ``vars`` are merged into the conversation's variables; ``member`` replaces the
    member snapshot when the action changed it (e.g. after ``save_member``).
    """

    outcome: str = "ok"
    vars: Mapping[str, Any] = field(default_factory=dict)
    member: Mapping[str, Any] | None = None


# ---------------------------------------------------------------- effects out


@dataclass(frozen=True)
class ActionCall:
    """Run the registered action ``name`` and answer with an ``ActionResult``."""

    name: str
    params: Mapping[str, Any]
    vars: Mapping[str, Any]
    language: str


@dataclass(frozen=True)
class RecordAnswer:
    """A quiz answer to store. ``attempt`` is unique per quiz run."""

    quiz: str
    attempt: str
    question: str
    choice: str
    correct: bool


@dataclass(frozen=True)
class FinishQuiz:
    quiz: str
    attempt: str
    score: int
    total: int


@dataclass(frozen=True)
class SendSms:
    """Text the member ``text``, rendered in her language (e.g. where to join the
    session she just signed up for: a link does not fit an 80-character screen)."""

    text: Text


Effect = RecordAnswer | FinishQuiz | SendSms


# ------------------------------------------------------------------- state


def _copy(value):
    """Copy JSON-shaped data (dicts and lists nest; everything else is immutable)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass
class State:
    """Where one conversation stands. Stored as JSON between hops."""

    flow: str
    node: str
    language: str
    conversation_id: str
    member: dict = field(default_factory=dict)
    vars: dict = field(default_factory=dict)
    choices: dict = field(default_factory=dict)  # var name -> option list it came from
    waiting: str = "input"  # input | action | done
    phase: str = ""  # node-private sub-step, e.g. quiz "feedback"
    tries: int = 0
    quiz: dict | None = None  # {"name", "attempt", "answers": {question: correct}}
    quiz_runs: int = 0
    notice: dict | None = None  # a message line waiting across an action for the next screen
    # The content version this conversation started on; the channels run every hop
    # of it on that version, so a publish never splits a conversation (0: unknown).
    edition: int = 0

    def to_dict(self, copy: bool = True) -> dict:
        """A JSON-ready copy. Written out by hand: ``dataclasses.asdict`` was the
        single largest cost of a USSD hop. ``copy=False`` shares the nested dicts
        and lists, for a caller that writes the state out at once: the deep copy
        was then the largest of the gateway's own costs per hop (see docs/benchmarks.md)."""
        same = (lambda value: value) if not copy else _copy
        return {
            "flow": self.flow,
            "node": self.node,
            "language": self.language,
            "conversation_id": self.conversation_id,
            "member": same(self.member),
            "vars": same(self.vars),
            "choices": dict(self.choices),
            "waiting": self.waiting,
            "phase": self.phase,
            "tries": self.tries,
            "quiz": same(self.quiz),
            "quiz_runs": self.quiz_runs,
            "notice": same(self.notice),
            "edition": self.edition,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "State":
        return cls(**data)


@dataclass(frozen=True)
class Step:
    """The engine's answer: the new state and what the caller must do next.

    Exactly one of ``screen`` and ``call`` is set.
    """

    state: State
    screen: Screen | None = None
    call: ActionCall | None = None
    effects: tuple[Effect, ...] = ()

    @property
    def final(self) -> bool:
        return self.screen is not None and self.screen.final
