"""A flow as a Mermaid ``flowchart``, for docs and for organisers reviewing menus."""

from __future__ import annotations

import re

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
