"""The shape of a flow once loaded: a book of flows, each a graph of typed nodes.

Targets (``next``) name a node in the same flow (``ask_name``), a node in another
flow (``register:ask_name``) or another flow's start (``register:``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from gateway.engine.conditions import Condition
from gateway.errors import FlowError


@dataclass(frozen=True)
class Node:
    id: str
    flow: str
    line: int = 0

    kind = "node"

    def targets(self) -> list[str]:
        """Every target this node can move to (for checks and graphs)."""
        return []

    def prompt_keys(self) -> list[str]:
        return []


@dataclass(frozen=True)
class MenuOption:
    label: str
    next: str | None = None
    value: Any = None


@dataclass(frozen=True)
class MenuNode(Node):
    """Numbered choices. Options are listed in YAML, drawn from a named list, or
    drawn from a variable an action set (``options_var``: a list of
    ``{"value": ..., "label": <prompt variable>}``, e.g. a member's open polls)."""

    prompt: str = ""
    options: tuple[MenuOption, ...] = ()
    options_from: str | None = None
    options_var: str | None = None
    save_as: str | None = None
    next: str | None = None
    sets_language: bool = False
    max_tries: int = 5
    on_fail: str | None = None

    kind = "menu"

    def targets(self):
        found = [o.next for o in self.options if o.next]
        return found + [t for t in (self.next, self.on_fail) if t]

    def prompt_keys(self):
        return [self.prompt] + [o.label for o in self.options]


@dataclass(frozen=True)
class MultiSelectNode(Node):
    """Several items of a named list, chosen in one answer: ``1 3``, ``13``, ``1,3``.

    One answer, not one toggle per hop: a Lao list of six topics is two USSD pages,
    and redrawing it after every choice cost a member five screens."""

    prompt: str = ""
    options_from: str = ""
    save_as: str = ""
    next: str = ""
    min: int = 1
    max_tries: int = 5
    on_fail: str | None = None

    kind = "multiselect"

    def targets(self):
        return [t for t in (self.next, self.on_fail) if t]

    def prompt_keys(self):
        return [self.prompt, "validate.choose_many"]


@dataclass(frozen=True)
class InputNode(Node):
    """Free text, checked by a validator. ``skip`` is what a member types to leave it empty."""

    prompt: str = ""
    save_as: str = ""
    validator: Callable[[str], Any] | None = None
    retry: str | None = None
    max_tries: int = 3
    on_fail: str | None = None
    next: str = ""
    skip: str | None = None
    voice: str = "record"  # what a voice channel does for this input: record | digits
    # ``{key: "0", lo: en, en: lo}``: typing the key shows this screen again in the
    # other language (a Lao-first welcome that asks her name with "English: 0").
    other_language: Mapping[str, str] = field(default_factory=dict)

    kind = "input"

    def targets(self):
        return [t for t in (self.next, self.on_fail) if t]

    def prompt_keys(self):
        return [self.prompt] + ([self.retry] if self.retry else [])


@dataclass(frozen=True)
class ConditionNode(Node):
    branches: tuple[tuple[Condition, str], ...] = ()
    otherwise: str = ""

    kind = "condition"

    def targets(self):
        return [target for _, target in self.branches] + [self.otherwise]


@dataclass(frozen=True)
class ActionNode(Node):
    """Ask the caller to run a registered action; branch on its outcome."""

    action: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)
    next: str | None = None

    kind = "action"

    def targets(self):
        return list(self.outcomes.values()) + ([self.next] if self.next else [])


@dataclass(frozen=True)
class QuizQuestionNode(Node):
    """A question with numbered options, one of them correct, then feedback."""

    quiz: str = ""
    question: str = ""
    prompt: str = ""
    options: tuple[str, ...] = ()
    answer: int = 1
    explain: str = ""
    next: str = ""

    kind = "quiz_question"

    def targets(self):
        return [self.next]

    def prompt_keys(self):
        return [self.prompt, self.explain, *self.options, "quiz.correct", "quiz.wrong", "quiz.progress", "quiz.next"]


@dataclass(frozen=True)
class QuizScoreNode(Node):
    """Shows and stores the score. Without ``next`` the session ends on it (``END``);
    with it, the score is a line above the next screen, so it costs no hop."""

    quiz: str = ""
    prompt: str = "quiz.score"
    next: str | None = None

    kind = "quiz_score"

    def targets(self):
        return [self.next] if self.next else []

    def prompt_keys(self):
        return [self.prompt]


@dataclass(frozen=True)
class MessageNode(Node):
    """A short line shown above the next screen ("Saved.", then the menu).

    It is never a screen of its own: a "1. Continue" screen costs a member a hop
    and a few of her 180 seconds for nothing. ``sms`` as on ``end``."""

    prompt: str = ""
    next: str = ""
    sms: str | None = None

    kind = "message"

    def targets(self):
        return [self.next]

    def prompt_keys(self):
        return [self.prompt] + ([self.sms] if self.sms else [])


@dataclass(frozen=True)
class EndNode(Node):
    """The last screen; the session ends on it. ``sms`` names a prompt sent to her
    by text as it shows (e.g. where to join, which does not fit the screen)."""

    prompt: str = ""
    sms: str | None = None

    kind = "end"

    def prompt_keys(self):
        return [self.prompt] + ([self.sms] if self.sms else [])


NODE_TYPES: dict[str, type[Node]] = {
    cls.kind: cls
    for cls in (
        MenuNode,
        MultiSelectNode,
        InputNode,
        ConditionNode,
        ActionNode,
        QuizQuestionNode,
        QuizScoreNode,
        MessageNode,
        EndNode,
    )
}


@dataclass(frozen=True)
class OptionList:
    """A named list of choices (provinces, topics, languages) shared by flows.

    Item ``x`` is labelled by the prompt key ``<label>.<x>``.
    """

    name: str
    label: str
    items: tuple[str, ...]

    def label_key(self, item: str) -> str:
        return f"{self.label}.{item}"


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, Node]
    file: str = ""
    channels: tuple[str, ...] = ("ussd", "sms", "voice")  # where it runs (reminder calls: voice)
    hop_budget: int | None = None  # USSD screens a member may need for it (`outreach flows hops`)


@dataclass(frozen=True)
class FlowBook:
    """All flows plus the shared option lists. The engine's whole world."""

    flows: Mapping[str, Flow]
    lists: Mapping[str, OptionList] = field(default_factory=dict)

    def resolve(self, current_flow: str, target: str) -> tuple[str, str]:
        """Turn a target into (flow, node), raising FlowError when it names nothing."""
        if ":" in target:
            flow_name, _, node_id = target.partition(":")
        else:
            flow_name, node_id = current_flow, target
        flow = self.flows.get(flow_name)
        if flow is None:
            raise FlowError(f"unknown flow {flow_name!r} in target {target!r}")
        node_id = node_id or flow.start
        if node_id not in flow.nodes:
            raise FlowError(f"unknown node {node_id!r} in flow {flow_name!r}")
        return flow_name, node_id

    def node(self, flow: str, node_id: str) -> Node:
        try:
            return self.flows[flow].nodes[node_id]
        except KeyError:
            raise FlowError(f"unknown node {flow}:{node_id}") from None

    def quiz_questions(self, quiz: str) -> list[QuizQuestionNode]:
        return [
            n
            for f in self.flows.values()
            for n in f.nodes.values()
            if isinstance(n, QuizQuestionNode) and n.quiz == quiz
        ]
