"""Load flow YAML files into a ``FlowBook``, reporting problems with file and line.

One file per flow in the flows folder, plus ``lists.yaml`` for shared option lists.
Loading never runs code from YAML: actions are named, and looked up by the caller.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

import yaml

from gateway.engine.conditions import Condition
from gateway.engine.model import (
    NODE_TYPES,
    ConditionNode,
    Flow,
    FlowBook,
    InputNode,
    MenuNode,
    MenuOption,
    OptionList,
)
from gateway.engine.validators import build_validator
from gateway.errors import FlowDefinitionError

LISTS_FILE = "lists.yaml"


class LineDict(dict):
    """A YAML mapping that remembers the line it started on, and each key's line."""

    line = 0
    key_lines: dict = {}


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that also refuses aliases (``*name``): content comes from the
    dashboard too, and a few nested aliases expand into billions of texts when a
    catalog is walked."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed here", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


def _construct_mapping(loader, node):
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {key.value: key.start_mark.line + 1 for key, _ in node.value if hasattr(key, "value")}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> Any:
    """YAML whose mappings know their lines. ``_LineLoader`` is a SafeLoader
    subclass: no arbitrary objects, whoever wrote the text."""
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506  # nosec B506


@dataclass
class Problem:
    """One thing wrong, at ``location`` (``file:line``). Where ``template`` is given,
    ``message`` is ``template % values``: the dashboard says the template in the
    organiser's language (it is in the dashboard's catalog), the CLI the message."""

    location: str
    message: str
    severity: str = "error"
    template: str = ""
    values: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def said(cls, location: str, template: str, **values) -> "Problem":
        return cls(location, template % values, template=template, values=values)

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


# YAML key -> dataclass field, where they differ.
_RENAMES = {"validate": "validator", "with": "params", "else": "otherwise"}


def load_book(source: Path | str | Mapping[str, str], problems: list[Problem] | None = None) -> FlowBook:
    """Load every flow in ``source``: a folder of YAML files, or texts by the name
    their problems are reported under (``flows/main.yaml``, as a version in the
    database holds them).

    With ``problems`` given, problems are collected there and loading carries on
    (for ``outreach flows check``). Without it, the first problem raises
    ``FlowDefinitionError``.
    """
    if isinstance(source, Mapping):
        texts = dict(source)
    else:
        texts = {str(path): path.read_text(encoding="utf-8") for path in sorted(Path(source).glob("*.yaml"))}
    collect = problems if problems is not None else []
    lists_name = next((name for name in texts if PurePosixPath(name).name == LISTS_FILE), None)
    lists = _load_lists(lists_name, texts[lists_name], collect) if lists_name else {}
    flows: dict[str, Flow] = {}
    for path, text in sorted(texts.items()):
        if path == lists_name:
            continue
        flow = _load_flow(path, text, collect)
        if flow is None:
            continue
        if flow.name in flows:
            collect.append(Problem(f"{path}:1", f"flow {flow.name!r} is defined twice"))
        flows[flow.name] = flow
    if problems is None and collect:
        first = collect[0]
        raise FlowDefinitionError(first.message, first.location)
    return FlowBook(flows, lists)


def _load_lists(path: str, text: str, problems: list[Problem]) -> dict[str, OptionList]:
    try:
        data = parse_yaml(text) or {}
    except yaml.YAMLError as exc:
        problems.append(Problem(f"{path}:{_line_of(exc)}", f"not valid YAML: {exc}"))
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(f"{path}:1", "the lists file must map names to lists"))
        return {}
    lists = {}
    for name, spec in data.items():
        where = f"{path}:{getattr(spec, 'line', 1)}"
        if not isinstance(spec, dict) or "items" not in spec or "label" not in spec:
            problems.append(Problem(where, f"list {name!r} needs 'label' and 'items'"))
            continue
        lists[name] = OptionList(name, str(spec["label"]), tuple(str(i) for i in spec["items"]))
    return lists


def _line_of(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark else 1


def _load_flow(path: str, text: str, problems: list[Problem]) -> Flow | None:
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        problems.append(Problem(f"{path}:{_line_of(exc)}", f"not valid YAML: {exc}"))
        return None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        problems.append(Problem(f"{path}:1", "a flow needs 'flow', 'start' and 'nodes'"))
        return None
    name = str(data.get("flow") or PurePosixPath(path).stem)
    nodes = {}
    key_lines = getattr(data["nodes"], "key_lines", {})
    for node_id, spec in data["nodes"].items():
        line = key_lines.get(str(node_id), getattr(spec, "line", 1))
        node = _build_node(name, str(node_id), spec, path, problems, line)
        if node is not None:
            nodes[str(node_id)] = node
    start = str(data.get("start", ""))
    if start not in data["nodes"]:
        problems.append(Problem(f"{path}:{data.line}", f"start node {start!r} does not exist"))
    channels = data.get("channels") or Flow.channels
    budget = data.get("hop_budget")
    if budget is not None and not (isinstance(budget, int) and budget > 0):
        problems.append(Problem(f"{path}:{data.line}", f"hop_budget must be a whole number, got {budget!r}"))
        budget = None
    return Flow(name, start, nodes, str(path), tuple(str(c) for c in channels), budget)


def _build_node(flow: str, node_id: str, spec: Any, path: str, problems: list[Problem], line: int):
    where = f"{path}:{line}"
    if not isinstance(spec, dict):
        problems.append(Problem(where, f"node {node_id!r} must be a mapping"))
        return None
    kind = spec.get("type")
    cls = NODE_TYPES.get(kind)
    if cls is None:
        problems.append(
            Problem(where, f"node {node_id!r} has unknown type {kind!r}; known: {', '.join(sorted(NODE_TYPES))}")
        )
        return None
    fields = {f.name for f in dataclasses.fields(cls)} - {"id", "flow", "line"}
    kwargs: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "type":
            continue
        name = _RENAMES.get(key, key)
        if name not in fields:
            problems.append(Problem(where, f"node {node_id!r} ({kind}) has unknown key {key!r}"))
            continue
        kwargs[name] = value
    try:
        _convert(cls, node_id, kwargs)
        node = cls(id=node_id, flow=flow, line=line, **kwargs)
    except (TypeError, ValueError) as exc:
        problems.append(Problem(where, f"node {node_id!r}: {exc}"))
        return None
    missing = [name for name in _required(cls) if not getattr(node, name)]
    if missing:
        problems.append(Problem(where, f"node {node_id!r} ({kind}) needs {', '.join(missing)}"))
    return node


def _convert(cls, node_id: str, kwargs: dict[str, Any]) -> None:
    """Turn YAML values into the node's field types, in place."""
    if cls is MenuNode and "options" in kwargs:
        kwargs["options"] = tuple(MenuOption(str(o["label"]), o.get("next"), o.get("value")) for o in kwargs["options"])
    if cls is InputNode:
        kwargs["validator"] = build_validator(kwargs.get("validator") or {"type": "text"})
        if "skip" in kwargs:
            kwargs["skip"] = str(kwargs["skip"])
    if cls is ConditionNode:
        kwargs["branches"] = tuple((Condition.parse(b["if"]), str(b["next"])) for b in kwargs.get("branches", ()))
    if "options" in kwargs and isinstance(kwargs["options"], list):
        kwargs["options"] = tuple(str(o) for o in kwargs["options"])
    if "question" in {f.name for f in dataclasses.fields(cls)}:
        kwargs.setdefault("question", node_id)
    for key in ("outcomes", "params", "other_language"):
        if key in kwargs:
            kwargs[key] = dict(kwargs[key] or {})


_REQUIRED = {
    "menu": ("prompt",),
    "multiselect": ("prompt", "options_from", "save_as", "next"),
    "input": ("prompt", "save_as", "next"),
    "condition": ("otherwise",),
    "action": ("action",),
    "quiz_question": ("quiz", "prompt", "options", "explain", "next"),
    "quiz_score": ("quiz",),
    "message": ("prompt", "next"),
    "end": ("prompt",),
}


def _required(cls) -> tuple[str, ...]:
    return _REQUIRED.get(cls.kind, ())
