"""``step(book, state, event) -> Step``: the whole engine, free of I/O.

The engine moves through non-interactive nodes (conditions) by itself and stops
at the first node that needs the outside world: a screen for the member, or an
action for the caller. The caller acts and answers with the next event.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.engine.digits import fold_digits
from gateway.engine.events import (
    ActionCall,
    ActionResult,
    FinishQuiz,
    Input,
    Option,
    RecordAnswer,
    Recorded,
    Screen,
    SendSms,
    Start,
    State,
    Step,
    Text,
    prompt_ref,
)
from gateway.engine.model import (
    ActionNode,
    ConditionNode,
    EndNode,
    FlowBook,
    InputNode,
    MenuNode,
    MessageNode,
    MultiSelectNode,
    Node,
    QuizQuestionNode,
    QuizScoreNode,
)
from gateway.engine.validators import Invalid
from gateway.errors import FlowError, StateError

# Conditions chain without showing anything; a chain this long is a loop in the YAML.
MAX_TRANSITIONS = 64

# After a wrong quiz answer, the one screen that explains it; any key goes on.
NEXT_QUESTION = Option("1", Text("quiz.next"))


def step(book: FlowBook, state: State | None, event) -> Step:
    """Apply ``event`` to ``state`` and return what happens next."""
    if isinstance(event, Start):
        fresh = State(
            flow=event.flow,
            node="",
            language=event.language,
            conversation_id=event.conversation_id,
            member=dict(event.member),
            vars=dict(event.vars),
            edition=event.edition,
        )
        return _advance(book, fresh, f"{event.flow}:", [])
    if state is None:
        raise StateError("no conversation state to continue")
    state = State.from_dict(state.to_dict())  # never mutate the caller's copy
    node = book.node(state.flow, state.node)
    if isinstance(event, ActionResult):
        if state.waiting != "action" or not isinstance(node, ActionNode):
            raise StateError(f"{state.flow}:{state.node} is not waiting for an action")
        state.vars.update(event.vars)
        if event.member is not None:
            state.member = dict(event.member)
        target = node.outcomes.get(event.outcome, node.next)
        if target is None:
            raise FlowError(
                f"action {node.action!r} returned {event.outcome!r}, which {state.flow}:{state.node} does not handle"
            )
        return _advance(book, state, target, [])
    if isinstance(event, Input):
        if state.waiting != "input":
            raise StateError(f"{state.flow}:{state.node} is not waiting for input")
        return _answer(book, state, node, event.text)
    if isinstance(event, Recorded):
        if state.waiting != "input" or not isinstance(node, InputNode) or node.voice != "record":
            raise StateError(f"{state.flow}:{state.node} does not take a recording")
        state.vars[node.save_as] = event.url
        return _advance(book, state, node.next, [])
    raise TypeError(f"unknown event {event!r}")


def current_screen(book: FlowBook, state: State, notice: Text | None = None) -> Screen:
    """The screen for the node ``state`` waits at; used to resume a conversation."""
    node = book.node(state.flow, state.node)
    shown = display_vars(book, state)
    if isinstance(node, MenuNode):
        options = tuple(
            Option(str(n), label) for n, (_, label, _) in enumerate(_menu_choices(book, node, state), start=1)
        )
        return Screen(Text(node.prompt, shown), options, notice)
    if isinstance(node, MultiSelectNode):
        items = book.lists[node.options_from]
        options = tuple(Option(str(n), Text(items.label_key(item))) for n, item in enumerate(items.items, start=1))
        return Screen(Text(node.prompt, shown), options, notice, expects="choices")
    if isinstance(node, InputNode):
        kind = getattr(node.validator, "kind", "text")
        return Screen(Text(node.prompt, shown), (), notice, expects="text", input_kind=kind, voice_input=node.voice)
    if isinstance(node, QuizQuestionNode):
        return _question_screen(book, state, node, notice)
    if isinstance(node, QuizScoreNode):
        score, total = _score(book, state, node)
        return Screen(
            Text(node.prompt, {**shown, "score": score, "total": total}), (), notice, final=True, expects="none"
        )
    if isinstance(node, EndNode):
        return Screen(Text(node.prompt, shown), (), notice, final=True, expects="none")
    raise FlowError(f"{state.flow}:{state.node} ({node.kind}) has no screen")


def display_vars(book: FlowBook, state: State) -> dict[str, Any]:
    """Variables a prompt may use: member fields, then conversation variables.

    Values chosen from a named list are shown by their label, not their key.
    """
    shown: dict[str, Any] = {k: v for k, v in state.member.items() if v is not None}
    shown.update(state.vars)
    for var, list_name in state.choices.items():
        value, items = state.vars.get(var), book.lists.get(list_name)
        if items is None or value is None:
            continue
        if isinstance(value, list):
            shown[var] = {"list": [prompt_ref(items.label_key(v)) for v in value]}
        else:
            shown[var] = prompt_ref(items.label_key(value))
    return shown


# ---------------------------------------------------------------- moving on


def _advance(book: FlowBook, state: State, target: str, effects: list, notice: Text | None = None) -> Step:
    """Move to ``target`` and on through nodes that show nothing of their own, until
    a screen or an action. A message (or a score with ``next``) becomes the
    ``notice`` line of the screen that follows it, so it costs the member no hop.
    A notice waiting across an action is kept in ``state.notice``."""
    if notice is None and state.notice:
        notice = Text(state.notice["key"], state.notice.get("vars", {}))
    state.notice = None
    for _ in range(MAX_TRANSITIONS):
        state.flow, state.node = book.resolve(state.flow, target)
        state.phase, state.tries = "", 0
        node = book.node(state.flow, state.node)
        if isinstance(node, ConditionNode):
            target = next((to for cond, to in node.branches if cond.holds(state)), node.otherwise)
            continue
        if isinstance(node, ActionNode):
            state.waiting = "action"
            if notice is not None:
                state.notice = {"key": notice.key, "vars": dict(notice.vars)}
            call = ActionCall(node.action, dict(node.params), dict(state.vars), state.language)
            return Step(state, call=call, effects=tuple(effects))
        if getattr(node, "sms", None):
            effects.append(SendSms(Text(node.sms, display_vars(book, state))))
        if isinstance(node, MessageNode):
            notice, target = Text(node.prompt, display_vars(book, state)), node.next
            continue
        if isinstance(node, QuizQuestionNode):
            _ensure_attempt(state, node.quiz)
        if isinstance(node, QuizScoreNode):
            _finish_quiz(book, state, node, effects)
            if node.next:
                score, total = _score(book, state, node)
                notice = Text(node.prompt, {**display_vars(book, state), "score": score, "total": total})
                target = node.next
                continue
        state.waiting = "done" if isinstance(node, (EndNode, QuizScoreNode)) else "input"
        return Step(state, screen=current_screen(book, state, notice), effects=tuple(effects))
    raise FlowError(
        f"more than {MAX_TRANSITIONS} moves without a screen near "
        f"{state.flow}:{state.node}; is there a loop of conditions?"
    )


def _answer(book: FlowBook, state: State, node: Node, text: str) -> Step:
    if isinstance(node, MenuNode):
        choices = _menu_choices(book, node, state)
        picked = _pick(text, len(choices))
        if picked is None:
            return _retry(book, state, node, Text("validate.menu", {"max": len(choices)}))
        value, _, target = choices[picked - 1]
        if node.save_as:
            state.vars[node.save_as] = value
            if node.options_from:
                state.choices[node.save_as] = node.options_from
        if node.sets_language:
            state.language = value
        return _advance(book, state, target or node.next, [])

    if isinstance(node, MultiSelectNode):
        items = book.lists[node.options_from].items
        picked = pick_many(text, len(items))
        if picked is None or len(picked) < node.min:
            return _retry(book, state, node, Text("validate.choose_many", {"max": len(items)}))
        state.vars[node.save_as] = [items[n - 1] for n in picked]
        state.choices[node.save_as] = node.options_from
        return _advance(book, state, node.next, [])

    if isinstance(node, InputNode):
        switch = node.other_language
        if switch and fold_digits(text).strip() == switch.get("key") and state.language in switch:
            state.language = state.vars["language"] = switch[state.language]
            return Step(state, screen=current_screen(book, state))
        if node.skip is not None and fold_digits(text).strip() == node.skip:
            state.vars[node.save_as] = None
            return _advance(book, state, node.next, [])
        result = node.validator(text)
        if isinstance(result, Invalid):
            return _retry(book, state, node, Text(node.retry or result.key, result.vars))
        state.vars[node.save_as] = result.value
        return _advance(book, state, node.next, [])

    if isinstance(node, QuizQuestionNode):
        if state.phase == "feedback":
            return _advance(book, state, node.next, [])
        picked = _pick(text, len(node.options))
        if picked is None:
            return _retry(book, state, node, Text("validate.menu", {"max": len(node.options)}))
        correct = picked == node.answer
        _ensure_attempt(state, node.quiz)
        state.quiz["answers"][node.question] = correct
        effect = RecordAnswer(node.quiz, state.quiz["attempt"], node.question, str(picked), correct)
        if correct:  # the verdict rides on top of the next question: no hop spent on it
            return _advance(book, state, node.next, [effect], Text("quiz.correct"))
        state.phase, state.tries = "feedback", 0  # wrong: one screen with the right answer and why
        return Step(state, screen=current_screen(book, state), effects=(effect,))

    raise StateError(f"{state.flow}:{state.node} ({node.kind}) does not take input")


def _retry(book: FlowBook, state: State, node: Node, notice: Text) -> Step:
    """Show the same screen with a notice, or give up after ``max_tries``."""
    state.tries += 1
    if state.tries >= getattr(node, "max_tries", 3):
        if getattr(node, "on_fail", None):
            return _advance(book, state, node.on_fail, [])
        state.waiting = "done"
        return Step(state, screen=Screen(Text("common.too_many_tries"), final=True, expects="none"))
    return Step(state, screen=current_screen(book, state, notice))


def _pick(text: str, count: int) -> int | None:
    """The option number typed, if it is one of 1..count."""
    typed = fold_digits(text).strip().rstrip(".)")
    if typed.isascii() and typed.isdigit() and len(typed) <= 3 and 1 <= int(typed) <= count:
        return int(typed)
    return None


def pick_many(text: str, count: int) -> list[int] | None:
    """Option numbers typed in one answer, in list order: ``1 3``, ``1,3``, ``໑ ໓``,
    or run together (``13``) when no option has a two-digit number that reads so.
    None when anything typed is not an option."""
    typed = fold_digits(text).strip()
    if not typed or len(typed) > 40:
        return None
    numbers: set[int] = set()
    for token in re.split(r"[\s,;.+/&-]+", typed):
        if not token:
            continue
        if not (token.isascii() and token.isdigit()):
            return None
        if 1 <= int(token) <= count:
            numbers.add(int(token))
        elif all(1 <= int(d) <= count for d in token):
            numbers.update(int(d) for d in token)
        else:
            return None
    return sorted(numbers) or None


def _menu_choices(book: FlowBook, node: MenuNode, state: State) -> list[tuple[Any, Text, str | None]]:
    """(value, label, target) for each numbered option of a menu."""
    if node.options_from:
        items = book.lists[node.options_from]
        return [(item, Text(items.label_key(item)), None) for item in items.items]
    if node.options_var:
        # "option.item" is "{label}": the label is a prompt variable (often localized).
        return [
            (entry.get("value"), Text("option.item", {"label": entry.get("label", "")}), None)
            for entry in state.vars.get(node.options_var) or ()
            if isinstance(entry, dict)
        ]
    return [(o.value, Text(o.label), o.next) for o in node.options]


# --------------------------------------------------------------------- quiz


def _ensure_attempt(state: State, quiz: str) -> None:
    current = state.quiz
    if current is None or current["name"] != quiz or current.get("finished"):
        state.quiz_runs += 1
        state.quiz = {
            "name": quiz,
            "attempt": f"{state.conversation_id}.{state.quiz_runs}",
            "answers": {},
            "finished": False,
        }


def _score(book: FlowBook, state: State, node: QuizScoreNode) -> tuple[int, int]:
    total = len(book.quiz_questions(node.quiz))
    quiz = state.quiz if state.quiz and state.quiz["name"] == node.quiz else None
    score = sum(1 for ok in (quiz or {}).get("answers", {}).values() if ok)
    return score, total


def _finish_quiz(book: FlowBook, state: State, node: QuizScoreNode, effects: list) -> None:
    quiz = state.quiz
    if quiz is None or quiz["name"] != node.quiz or quiz.get("finished"):
        return
    score, total = _score(book, state, node)
    quiz["finished"] = True
    effects.append(FinishQuiz(node.quiz, quiz["attempt"], score, total))


def _question_screen(book: FlowBook, state: State, node: QuizQuestionNode, notice: Text | None) -> Screen:
    questions = book.quiz_questions(node.quiz)
    number = next(i for i, q in enumerate(questions, start=1) if q is node)
    if state.phase == "feedback":  # only after a wrong answer: the right one, in words, and why
        verdict = Text("quiz.wrong", {"answer": prompt_ref(node.options[node.answer - 1])})
        return Screen(Text(node.explain), (NEXT_QUESTION,), verdict, expects="any")
    options = tuple(Option(str(n), Text(label)) for n, label in enumerate(node.options, start=1))
    header = Text("quiz.progress", {"number": number, "total": len(questions)})
    return Screen(Text(node.prompt), options, notice, header=header)
