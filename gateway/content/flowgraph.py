"""A flow as a Mermaid ``flowchart``, for docs and for organisers reviewing menus."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from xml.sax.saxutils import escape

from gateway.engine.model import ActionNode, ConditionNode, FlowBook, MenuNode, MultiSelectNode

_SHAPES = {"condition": ("{", "}"), "action": ("[[", "]]"), "end": ("([", "])")}


def _id(flow: str, node: str) -> str:
    return re.sub(r"\W", "_", f"{flow}__{node}")


def mermaid(book: FlowBook, name: str) -> str:
    flow = book.flows[name]
    lines = ["flowchart TD"]
    outside: set[tuple[str, str]] = set()
    for node in flow.nodes.values():
        left, right = _SHAPES.get(node.kind, ("[", "]"))
        lines.append(f'  {_id(name, node.id)}{left}"{node.id}<br/><i>{node.kind}</i>"{right}')
    lines.append(f"  start((start)) --> {_id(name, flow.start)}")
    for node in flow.nodes.values():
        for label, target in _edges(node):
            target_flow, target_node = book.resolve(name, target)
            if target_flow != name:
                outside.add((target_flow, target_node))
            arrow = f"-- {label} -->" if label else "-->"
            lines.append(f"  {_id(name, node.id)} {arrow} {_id(target_flow, target_node)}")
    for target_flow, target_node in sorted(outside):
        lines.append(f'  {_id(target_flow, target_node)}>"{target_flow}:{target_node}"]')
    return "\n".join(lines)


def _edges(node):
    if isinstance(node, MenuNode) and not node.options_from:
        edges = [(str(n), o.next or node.next) for n, o in enumerate(node.options, start=1)]
    elif isinstance(node, ConditionNode):
        edges = [(c.source.replace('"', "'"), t) for c, t in node.branches] + [("else", node.otherwise)]
    elif isinstance(node, ActionNode):
        edges = list(node.outcomes.items()) + ([("", node.next)] if node.next else [])
    elif isinstance(node, (MenuNode, MultiSelectNode)):
        edges = [("", node.next)]
    else:
        edges = [("", t) for t in node.targets()]
    return [(label, target) for label, target in edges if target]


# ------------------------------------------------------------------ SVG, for the dashboard

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 210, 58, 36, 64, 24


def svg(
    book: FlowBook,
    name: str,
    catalog,
    lang: str,
    words: Mapping[str, str] | None = None,
    mark: Callable[[str], str] = escape,
) -> str:
    """Flow ``name`` drawn as SVG, top to bottom: one row per step from the start
    (breadth first), an arrow per way on, labelled with the key that takes it. Each
    box shows the step's kind and the start of its words in ``lang``. Drawn here
    rather than by a script from the internet, so the dashboard stays offline.

    ``words`` says kinds, ways on and other flows (``flow:<name>``) in the reader's
    language. What it has no word for (a step's name, a condition) is the flow
    file's own identifier, marked as no language (``lang="zxx"``). ``mark`` escapes a
    step's words for SVG, marking any English in them (the language menu's)."""
    words = words or {}
    flow = book.flows[name]
    rows: list[list[str]] = []
    depth: dict[str, int] = {}
    edges: list[tuple[str, str, str]] = []
    queue = [flow.start]
    depth[flow.start] = 0
    while queue:  # breadth first: a node's row is its fewest steps from the start
        node_id = queue.pop(0)
        node = flow.nodes[node_id]
        for label, target in _edges(node):
            target_flow, target_node = book.resolve(name, target)
            key = target_node if target_flow == name else f"{target_flow}:{target_node}"
            edges.append((node_id, key, label))
            if key not in depth:
                depth[key] = depth[node_id] + 1
                if target_flow == name:
                    queue.append(key)
    for node_id in flow.nodes:  # nodes only reachable some other way still get drawn
        depth.setdefault(node_id, (max(depth.values()) + 1) if depth else 0)
    for key, level in sorted(depth.items(), key=lambda item: item[1]):
        while len(rows) <= level:
            rows.append([])
        rows[level].append(key)
    widest = max(len(row) for row in rows)
    width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X
    height = MARGIN * 2 + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for level, row in enumerate(rows):
        row_width = len(row) * BOX_W + (len(row) - 1) * GAP_X
        left = (width - row_width) / 2
        for n, key in enumerate(row):
            where[key] = (left + n * (BOX_W + GAP_X), MARGIN + level * (BOX_H + GAP_Y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(words.get("flow:" + name, name))}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#5f6b7a"/></marker></defs>',
    ]
    for source, target, label in edges:
        (x1, y1), (x2, y2) = where[source], where[target]
        if where[target][1] > where[source][1]:  # down a row: a straight arrow
            sx, sy, tx, ty = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2, y2
            path = f"M{sx:.0f},{sy:.0f} C{sx:.0f},{sy + GAP_Y / 2:.0f} {tx:.0f},{ty - GAP_Y / 2:.0f} {tx:.0f},{ty:.0f}"
        else:  # back up (a loop) or along the row: round the right-hand side
            sx, sy, tx, ty = x1 + BOX_W, y1 + BOX_H / 2, x2 + BOX_W, y2 + BOX_H / 2
            bulge = max(sx, tx) + GAP_X * 0.8
            path = f"M{sx:.0f},{sy:.0f} C{bulge:.0f},{sy:.0f} {bulge:.0f},{ty:.0f} {tx:.0f},{ty:.0f}"
        parts.append(f'<path d="{path}" fill="none" stroke="#9aa5b1" stroke-width="1.4" marker-end="url(#arrow)"/>')
        if label and len(label) <= 12:
            mx, my = (sx + tx) / 2, (sy + ty) / 2
            said = words.get(label) or (label if label.isdigit() else "")
            marked = "" if said else ' lang="zxx"'
            parts.append(
                f'<text x="{mx:.0f}" y="{my:.0f}" class="edge" text-anchor="middle"{marked}>'
                f"{escape(said or label)}</text>"
            )
    for key, (x, y) in where.items():
        if key in flow.nodes:
            node = flow.nodes[key]
            kind, says = node.kind, _words(node, catalog, lang)
            fill = {"end": "#fde8e8", "condition": "#fef3c7", "action": "#e0f2fe"}.get(kind, "#ffffff")
            second = (
                f'<text x="{x + 8:.0f}" y="{y + 43:.0f}" class="words">{mark(says)}</text>'
                if says
                else f'<text x="{x + 8:.0f}" y="{y + 43:.0f}" class="words" lang="zxx">{escape(key)}</text>'
            )
        else:  # a step of another flow: that flow's name
            kind, fill = "→", "#edf2f7"
            other = key.split(":")[0]
            said = words.get("flow:" + other)
            second = (
                f'<text x="{x + 8:.0f}" y="{y + 43:.0f}" class="words">{escape(_short(said))}</text>'
                if said
                else f'<text x="{x + 8:.0f}" y="{y + 43:.0f}" class="words" lang="zxx">{escape(key)}</text>'
            )
        parts.append(
            f'<g class="node {escape(kind)}"><rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" '
            f'rx="7" fill="{fill}" stroke="#2b6cb0"/>'
            f'<text x="{x + 8:.0f}" y="{y + 19:.0f}" class="kind">{escape(words.get(kind, kind))}</text>'
            f"{second}</g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _words(node, catalog, lang: str) -> str:
    """The start of what the node says, in ``lang`` (templates unfilled)."""
    key = getattr(node, "prompt", "") or ""
    if not key or not catalog.has(lang, key):
        return ""
    return _short(" ".join(catalog.template(lang, key).split()))


def _short(text: str) -> str:
    return text if len(text) <= 26 else text[:25] + "…"


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})
