"""``outreach flows check``: everything that can be wrong with flows, before a member finds it.

Reports unknown node types and keys (from loading), dangling targets, nodes no
entry reaches, unknown actions and lists, prompt keys missing in any language,
placeholders that differ between languages, and screens that cannot fit a USSD
page even when paginated. Each problem names the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from gateway.channels.text import screen_lines
from gateway.channels.ussd.pages import MORE_KEY, PageLimits, paginate
from gateway.content.flows import Problem, load_book
from gateway.content.prompts import Catalog
from gateway.encoding import encoding_of, length_in
from gateway.engine import State, Text, current_screen
from gateway.engine.model import (
    ActionNode,
    FlowBook,
    MenuNode,
    MultiSelectNode,
    Node,
    QuizQuestionNode,
)
from gateway.errors import FlowError

# Keys the gateway itself shows, whatever the flows say.
BUILT_IN_KEYS = (
    "format.datetime", "common.continue", "common.done", "common.main_menu",
    "common.too_many_tries", "common.missing", "validate.menu", "validate.text_length",
    "validate.number", "validate.choice", "validate.phone", "validate.date",
    "validate.choose_at_least", "ussd.more", "ussd.back", "ussd.resume",
    "ussd.resume_continue", "ussd.resume_restart", "ussd.error", "ussd.rate_limited",
    "ussd.bad_number", "quiz.correct", "quiz.wrong", "quiz.progress",
    "sms.help", "sms.stopped", "sms.started", "sms.register_first", "reminder.text",
    "option.item", "poll.sms", "poll.invalid", "poll.closed", "poll.thanks",
    "feedback.question", "feedback.option1", "feedback.option2", "feedback.option3",
    "feedback.option4", "feedback.option5", "report.poll_subtitle", "report.quiz_title",
    "report.quiz_subtitle", "report.scores_title", "report.footer",
    "voice.for", "voice.press", "voice.at", "voice.then_hash", "voice.record", "voice.goodbye",
    "voice.selected",
)

# Stand-ins for what members and organisers type, long enough to be honest.
SAMPLE_VARS = {
    "name": "Souksavanh Phommachanh", "organisation": "Lao Women's Union Saravane",
    "max": 18, "min": 1, "score": 7, "total": 7, "number": 7, "answer": 3,
    "title": "ໂພຊະນາການແມ່ ແລະ ເດັກ", "when": "ວັນສຸກ ທີ 27 ພະຈິກ ເວລາ 14:00",
    "where": "meet.jit.si/nutrition-hangout", "choices": "yes, no",
    "code": "P12", "question": "ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?", "choice": "ນ້ຳສະອາດ ແລະ ອະນາໄມ",
    "options": "1 ໂພຊະນາການ\n2 ນ້ຳສະອາດ\n3 ຄວາມປອດໄພດິຈິຕອນ", "letters": "a-c",
    "label": "P12: ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?",
}


def _where(book: FlowBook, node: Node) -> str:
    return f"{book.flows[node.flow].file}:{node.line}"


def check(flows_dir: Path, catalog: Catalog, action_names: Iterable[str],
          limits: PageLimits = PageLimits()) -> list[Problem]:
    problems: list[Problem] = []
    book = load_book(flows_dir, problems)
    actions = set(action_names)
    nodes = [n for flow in book.flows.values() for n in flow.nodes.values()]

    for node in nodes:
        where = _where(book, node)
        for target in node.targets():
            try:
                book.resolve(node.flow, target)
            except FlowError as exc:
                problems.append(Problem(where, f"{node.flow}:{node.id} points nowhere: {exc}"))
        if isinstance(node, ActionNode) and node.action not in actions:
            problems.append(Problem(where, f"unknown action {node.action!r}; "
                                           f"registered: {', '.join(sorted(actions))}"))
        list_name = getattr(node, "options_from", None)
        if list_name and list_name not in book.lists:
            problems.append(Problem(where, f"unknown list {list_name!r} in options_from"))
        problems.extend(_option_count_problems(book, node, where))

    problems.extend(_unreachable(book))
    problems.extend(_prompt_problems(book, catalog, nodes))
    if not any(p.severity == "error" for p in problems):
        problems.extend(_fit_problems(book, catalog, nodes, limits))
    return problems


def _option_count_problems(book: FlowBook, node: Node, where: str) -> list[Problem]:
    count = None
    if isinstance(node, MenuNode) and node.options_var:
        count = None  # known only when the flow runs
    elif isinstance(node, MenuNode):
        count = len(book.lists[node.options_from].items) if node.options_from in book.lists \
            else len(node.options)
    elif isinstance(node, MultiSelectNode) and node.options_from in book.lists:
        count = len(book.lists[node.options_from].items) + 1
    elif isinstance(node, QuizQuestionNode):
        count = len(node.options)
        if not 1 <= node.answer <= count:
            return [Problem(where, f"answer {node.answer} is not one of the {count} options")]
    if count is not None and count == 0:
        return [Problem(where, f"{node.id} offers no options")]
    if count is not None and count >= int(MORE_KEY):
        return [Problem(where, f"{node.id} has {count} options; {MORE_KEY} is kept for paging")]
    return []


def _unreachable(book: FlowBook) -> list[Problem]:
    """Every flow's start is an entry (keywords and menus enter flows there)."""
    seen: set[tuple[str, str]] = set()
    todo = [(name, flow.start) for name, flow in book.flows.items() if flow.start in flow.nodes]
    while todo:
        flow, node_id = todo.pop()
        if (flow, node_id) in seen:
            continue
        seen.add((flow, node_id))
        for target in book.flows[flow].nodes[node_id].targets():
            try:
                todo.append(book.resolve(flow, target))
            except FlowError:
                pass
    return [Problem(_where(book, node), f"node {flow.name}:{node.id} cannot be reached")
            for flow in book.flows.values() for node in flow.nodes.values()
            if (flow.name, node.id) not in seen]


def _used_keys(book: FlowBook, nodes: list[Node]) -> dict[str, str]:
    """Each prompt key in use -> where it is first used."""
    used: dict[str, str] = {}
    for node in nodes:
        for key in node.prompt_keys():
            used.setdefault(key, _where(book, node))
    for option_list in book.lists.values():
        for item in option_list.items:
            used.setdefault(option_list.label_key(item), "flows/lists.yaml")
    for key in BUILT_IN_KEYS:
        used.setdefault(key, "(built in)")
    return used


def _prompt_problems(book: FlowBook, catalog: Catalog, nodes: list[Node]) -> list[Problem]:
    problems = []
    for key, where in sorted(_used_keys(book, nodes).items()):
        for lang in catalog.languages:
            if not catalog.has(lang, key):
                problems.append(Problem(where, f"prompt {key!r} is missing in {lang}.yaml"))
        # A translation may leave a placeholder out, but one English lacks is a typo.
        known = catalog.placeholders("en", key) if catalog.has("en", key) else set()
        for lang in catalog.languages:
            unknown = catalog.placeholders(lang, key) - known if catalog.has(lang, key) else set()
            if unknown:
                problems.append(Problem(where, f"prompt {key!r} in {lang}.yaml uses "
                                               f"{sorted(unknown)}, which en.yaml does not"))
    return problems


def _fit_problems(book: FlowBook, catalog: Catalog, nodes: list[Node],
                  limits: PageLimits) -> list[Problem]:
    problems = []
    for node in nodes:
        for lang in catalog.languages:
            for screen in _sample_screens(book, node, lang):
                lines = screen_lines(screen, catalog, lang)
                more = catalog.render(Text("ussd.more"), lang)
                back = catalog.render(Text("ussd.back"), lang)
                encoding = encoding_of("\n".join(lines) + more + back)
                limit = limits.gsm7 if encoding == "GSM-7" else limits.ucs2
                room = limit - length_in(f"\n{MORE_KEY} {more}\n0 {back}", encoding)
                for option in lines[-len(screen.options):] if screen.options else []:
                    if length_in(option, encoding) > room:
                        problems.append(Problem(_where(book, node),
                            f"[{lang}] option {option!r} cannot fit one page even with paging"))
                try:
                    paginate(lines, limits, more, back)
                except ValueError as exc:
                    problems.append(Problem(_where(book, node), f"[{lang}] {exc}"))
    return problems


def _sample_screens(book: FlowBook, node: Node, lang: str):
    if isinstance(node, ActionNode) or node.kind == "condition":
        return []
    state = State(node.flow, node.id, lang, "check", member=dict(SAMPLE_VARS),
                  vars=dict(SAMPLE_VARS))
    screens = [current_screen(book, state)]
    if isinstance(node, QuizQuestionNode):
        state.phase = "feedback"
        screens.append(current_screen(book, state))
    return screens


def page_report(book: FlowBook, catalog: Catalog, limits: PageLimits = PageLimits()):
    """(flow:node, language, pages) for every screen: to spot screens worth shortening."""
    for flow in book.flows.values():
        for node in flow.nodes.values():
            for lang in catalog.languages:
                for screen in _sample_screens(book, node, lang):
                    lines = screen_lines(screen, catalog, lang)
                    pages = paginate(lines, limits, catalog.render(Text("ussd.more"), lang),
                                     catalog.render(Text("ussd.back"), lang))
                    yield f"{flow.name}:{node.id}", lang, pages
