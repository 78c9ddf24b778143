"""``outreach flows check``: everything that can be wrong with flows, before a member finds it.

Reports unknown node types and keys (from loading), dangling targets, nodes no
entry reaches, unknown actions and lists, prompt keys missing in any language,
placeholders that differ between languages, screens that cannot fit a USSD page
even when paginated, screens whose first option is not on the first page (she
would have to press 98 before she could answer), and lists whose first page
shows fewer than three items. Each problem names the file and line.

Screens are drawn with sample values (``SAMPLE_VARS``), once with a Latin-script
name and once with a Lao one: a Lao name turns an English screen into UCS-2 and
its page into 80 characters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from gateway.channels.sms.render import render as render_sms
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
    QuizScoreNode,
)
from gateway.content.usage import BUILT_IN_KEYS
from gateway.errors import FlowError


# Stand-ins for what members and organisers type, long enough to be honest.
SAMPLE_VARS = {
    "name": "Souksavanh Phommachanh",
    "organisation": "Lao Women's Union Saravane",
    "max": 18,
    "min": 1,
    "score": 7,
    "total": 7,
    "number": 7,
    "answer": 3,
    "title": "ກອງປະຊຸມໂພຊະນາການແມ່ ແລະ ເດັກ ແຂວງສາລະວັນ",
    "when": {"datetime": "2026-11-27T07:00:00+00:00", "style": "short"},
    "when_long": {"datetime": "2026-11-27T07:00:00+00:00"},
    "where": "meet.jit.si/nutrition-hangout",
    "choices": "yes, no",
    "code": "P12",
    "kind": {"text": "kind.community_of_practice"},
    "province": {"text": "province.vientiane_capital"},
    "topics": {
        "list": [{"text": f"topic.{t}"} for t in ("nutrition", "wash", "digital_safety", "gender", "climate", "health")]
    },
    "question": "ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?",
    "choice": "ນ້ຳສະອາດ ແລະ ອະນາໄມ",
    "options": "1 ໂພຊະນາການ\n2 ນ້ຳສະອາດ\n3 ຄວາມປອດໄພດິຈິຕອນ",
    "letters": "a-c",
    "label": "P12: ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?",
    "polls": [{"value": 1, "label": "P12: ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?"}, {"value": 2, "label": "P13: ກິດຈະກຳມື້ນີ້ມີປະໂຫຍດບໍ?"}],
    "poll_options": [
        {"value": 1, "label": "ໂພຊະນາການ"},
        {"value": 2, "label": "ນ້ຳສະອາດ"},
        {"value": 3, "label": "ຄວາມປອດໄພດິຈິຕອນ"},
    ],
}
# The same member, with her name and organisation in Lao script.
SAMPLE_VARS_LAO = {**SAMPLE_VARS, "name": "ສຸກສະຫວັນ ພົມມະຈັນ", "organisation": "ສະຫະພັນແມ່ຍິງ ສາລະວັນ"}
# A list whose first page shows fewer items than this is mostly header.
MIN_ITEMS_ON_A_PAGE = 3


def _where(book: FlowBook, node: Node) -> str:
    return f"{book.flows[node.flow].file}:{node.line}"


def check(
    source: Path | FlowBook | Mapping[str, str],
    catalog: Catalog,
    action_names: Iterable[str],
    limits: PageLimits = PageLimits(),
) -> list[Problem]:
    """Every problem in the flows of ``source``: a folder, documents, or a flow book
    already built (an edition's, with the flows its quizzes make)."""
    problems: list[Problem] = []
    book = source if isinstance(source, FlowBook) else load_book(source, problems)
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
            problems.append(Problem(where, f"unknown action {node.action!r}; registered: {', '.join(sorted(actions))}"))
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
        count = len(book.lists[node.options_from].items) if node.options_from in book.lists else len(node.options)
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
    return [
        Problem(_where(book, node), f"node {flow.name}:{node.id} cannot be reached")
        for flow in book.flows.values()
        for node in flow.nodes.values()
        if (flow.name, node.id) not in seen
    ]


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
        for lang in catalog.promised:  # a language being translated is shown with its coverage instead
            if not catalog.has(lang, key):
                problems.append(Problem.said(where, "prompt '%(key)s' is missing in %(lang)s.yaml", key=key, lang=lang))
        # A translation may leave a placeholder out, but one English lacks is a typo.
        known = catalog.placeholders("en", key) if catalog.has("en", key) else set()
        for lang in catalog.languages:
            unknown = catalog.placeholders(lang, key) - known if catalog.has(lang, key) else set()
            if unknown:
                problems.append(
                    Problem.said(
                        where,
                        "prompt '%(key)s' in %(lang)s.yaml uses {%(names)s}, which en.yaml does not",
                        key=key,
                        lang=lang,
                        names="}, {".join(sorted(unknown)),
                    )
                )
    return problems


def _fit_problems(book: FlowBook, catalog: Catalog, nodes: list[Node], limits: PageLimits) -> list[Problem]:
    problems: list[Problem] = []
    for node in nodes:
        if "ussd" not in book.flows[node.flow].channels:
            continue
        for lang in catalog.chosen:
            for screen in sample_screens(book, node, lang):
                lines = screen_lines(screen, catalog, lang)
                more = catalog.render(Text("ussd.more"), lang)
                back = catalog.render(Text("ussd.back"), lang)
                encoding = encoding_of("\n".join(lines) + more + back)
                limit = limits.gsm7 if encoding == "GSM-7" else limits.ucs2
                room = limit - length_in(f"\n{MORE_KEY} {more}\n0 {back}", encoding)
                for option in lines[-len(screen.options) :] if screen.options else []:
                    if length_in(option, encoding) > room:
                        problems.append(
                            Problem.said(
                                _where(book, node),
                                "[%(lang)s] %(screen)s: option '%(option)s' cannot fit one page even with paging",
                                lang=lang,
                                screen=f"{node.flow}:{node.id}",
                                option=option,
                            )
                        )
                try:
                    pages = paginate(lines, limits, more, back)
                except ValueError as exc:
                    problems.append(Problem(_where(book, node), f"[{lang}] {exc}"))
                    continue
                problems.extend(first_page_problems(book, node, lang, screen, pages))
    return _once(problems)


def first_page_problems(book: FlowBook, node: Node, lang: str, screen, pages: list[str]):
    """Options start on page 1; a list shows at least three items there; the last
    screen of a session is one page (paging it costs a hop after the work is done)."""
    if screen.final and len(pages) > 1:
        return [
            Problem.said(
                _where(book, node),
                "[%(lang)s] %(screen)s: ends the session but takes %(pages)s pages; shorten it to one:\n%(page)s",
                lang=lang,
                screen=f"{node.flow}:{node.id}",
                pages=len(pages),
                page=pages[0],
            )
        ]
    if not screen.options or screen.expects not in ("choice", "choices"):
        return []
    first = [
        line
        for line in pages[0].splitlines()
        if line[:1].isdigit() and "." in line[:4] and not line.startswith(f"{MORE_KEY} ")
    ]
    if not first:
        return [
            Problem.said(
                _where(book, node),
                "[%(lang)s] %(screen)s: the first option is not on "
                "page 1 of %(pages)s; shorten the prompt so she can answer without "
                "pressing 98:\n%(page)s",
                lang=lang,
                screen=f"{node.flow}:{node.id}",
                pages=len(pages),
                page=pages[0],
            )
        ]
    wanted = min(MIN_ITEMS_ON_A_PAGE, len(screen.options))
    if getattr(node, "options_from", None) and len(first) < wanted:
        return [
            Problem.said(
                _where(book, node),
                "[%(lang)s] %(screen)s: the list's first page shows "
                "%(shown)s item(s); shorten the header to leave room for %(wanted)s:\n%(page)s",
                lang=lang,
                screen=f"{node.flow}:{node.id}",
                shown=len(first),
                wanted=wanted,
                page=pages[0],
            )
        ]
    return []


def ussd_pages(screen, catalog: Catalog, lang: str, limits: PageLimits = PageLimits()) -> list[str]:
    """``screen`` as the USSD pages a member would see."""
    return paginate(
        screen_lines(screen, catalog, lang),
        limits,
        catalog.render(Text("ussd.more"), lang),
        catalog.render(Text("ussd.back"), lang),
        last_has_back=not screen.final,
    )


def options_on_first_page(screen, catalog: Catalog, lang: str, limits: PageLimits = PageLimits()) -> bool:
    """Whether she can answer ``screen`` without pressing 98 (for what organisers write:
    a poll's question and options)."""
    first = ussd_pages(screen, catalog, lang, limits)[0].splitlines()
    return any(line.startswith(f"{option.key}. ") for option in screen.options[:1] for line in first)


def _once(problems: list[Problem]) -> list[Problem]:
    """The same problem found with both sample names is reported once."""
    seen: set[str] = set()
    return [p for p in problems if not (str(p) in seen or seen.add(str(p)))]


def sample_screens(book: FlowBook, node: Node, lang: str):
    """The node's screens drawn with sample values: after a right answer (the quiz's
    verdict rides on top) and, for a quiz question, the wrong-answer screen."""
    if isinstance(node, ActionNode) or node.kind == "condition" or node.kind == "message":
        return []
    screens = []
    for sample in (SAMPLE_VARS, SAMPLE_VARS_LAO):
        state = State(node.flow, node.id, lang, "check", member=dict(sample), vars=dict(sample))
        follows_an_answer = isinstance(node, QuizScoreNode) or (
            isinstance(node, QuizQuestionNode) and book.quiz_questions(node.quiz)[0] is not node
        )
        notice = Text("quiz.correct") if follows_an_answer else None
        screens.append(current_screen(book, state, notice))
        if isinstance(node, QuizQuestionNode):
            state.phase = "feedback"
            screens.append(current_screen(book, state))
    return screens


def _every_screen(book: FlowBook, catalog: Catalog, channel: str):
    """(flow:node, language, screen) for every sample screen of the flows ``channel`` runs."""
    for flow in book.flows.values():
        if channel not in flow.channels:
            continue
        for node in flow.nodes.values():
            for lang in catalog.chosen:
                for screen in sample_screens(book, node, lang):
                    yield f"{flow.name}:{node.id}", lang, screen


def sms_report(book: FlowBook, catalog: Catalog):
    """(flow:node, language, text) for every screen as an SMS conversation sends it."""
    for where, lang, screen in _every_screen(book, catalog, "sms"):
        yield where, lang, render_sms(screen, catalog, lang)


def page_report(book: FlowBook, catalog: Catalog, limits: PageLimits = PageLimits()):
    """(flow:node, language, pages) for every screen: to spot screens worth shortening."""
    for where, lang, screen in _every_screen(book, catalog, "ussd"):
        yield (
            where,
            lang,
            paginate(
                screen_lines(screen, catalog, lang),
                limits,
                catalog.render(Text("ussd.more"), lang),
                catalog.render(Text("ussd.back"), lang),
            ),
        )
