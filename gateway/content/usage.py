"""Where each prompt key is shown: which flow and step, on which channels.

The wording editor lists it beside each text; a language's coverage counts the
keys the published flows show.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.engine.model import FlowBook, MenuNode, MultiSelectNode, QuizQuestionNode

BUILT_IN = "(built in)"  # a Use's flow for the keys below

# Keys the gateway itself shows, whatever the flows say.
BUILT_IN_KEYS = (
    "format.datetime",
    "format.datetime_short",
    "common.too_many_tries",
    "common.missing",
    "validate.menu",
    "validate.text_length",
    "validate.number",
    "validate.choice",
    "validate.phone",
    "validate.date",
    "validate.choose_many",
    "ussd.more",
    "ussd.back",
    "ussd.resume",
    "ussd.resume_continue",
    "ussd.resume_restart",
    "ussd.error",
    "ussd.rate_limited",
    "ussd.bad_number",
    "quiz.correct",
    "quiz.wrong",
    "quiz.progress",
    "quiz.next",
    "sms.help",
    "sms.stopped",
    "sms.started",
    "sms.register_first",
    "reminder.text",
    "option.item",
    "poll.sms",
    "poll.invalid",
    "poll.closed",
    "poll.thanks",
    "feedback.question",
    "feedback.option1",
    "feedback.option2",
    "feedback.option3",
    "feedback.option4",
    "feedback.option5",
    "report.poll_subtitle",
    "report.quiz_title",
    "report.quiz_subtitle",
    "report.scores_title",
    "report.digital_safety",
    "quiz.invite",
    "report.footer",
    "voice.for",
    "voice.press",
    "voice.at",
    "voice.hours",
    "voice.minutes",
    "voice.then_hash",
    "voice.record",
    "voice.goodbye",
)


@dataclass(frozen=True)
class Use:
    flow: str
    node: str
    channels: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.flow}:{self.node}" if self.node else self.flow


def uses(book: FlowBook) -> dict[str, list[Use]]:
    """Prompt key -> where it is shown: each flow step, a list's label, or built in."""
    found: dict[str, list[Use]] = {}
    for flow in book.flows.values():
        channels = tuple(flow.channels or ())
        for node in flow.nodes.values():
            keys = list(node.prompt_keys())
            if isinstance(node, QuizQuestionNode):
                keys.append(node.explain)
            if isinstance(node, (MenuNode, MultiSelectNode)) and node.options_from in book.lists:
                option_list = book.lists[node.options_from]
                keys += [option_list.label_key(item) for item in option_list.items]
            for key in dict.fromkeys(keys):
                found.setdefault(key, []).append(Use(flow.name, node.id, channels))
    for key in BUILT_IN_KEYS:
        found.setdefault(key, []).append(Use(BUILT_IN, "", ("ussd", "sms", "voice")))
    return found
