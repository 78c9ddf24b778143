"""Conditions for ``condition`` nodes: a tiny, safe expression language.

Grammar: ``[not] path [(== | !=) literal]`` where ``path`` is ``member.<field>``,
``vars.<name>`` or ``language``, and ``literal`` is a quoted string, a number,
``true``/``false`` or ``none``. No code from YAML is ever evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_EXPR = re.compile(
    r"""^\s*(?P<neg>not\s+)?(?P<path>language|(?:member|vars)\.[A-Za-z_][A-Za-z0-9_]*)
        \s*(?:(?P<op>==|!=)\s*(?P<lit>'[^']*'|"[^"]*"|-?\d+|true|false|none))?\s*$""",
    re.VERBOSE,
)


_KEYWORDS = {"true": True, "false": False, "none": None}


def _literal(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    if text in _KEYWORDS:
        return _KEYWORDS[text]
    return int(text)


@dataclass(frozen=True)
class Condition:
    source: str
    path: str
    negate: bool
    op: str | None
    literal: Any

    @classmethod
    def parse(cls, source: str) -> "Condition":
        match = _EXPR.match(str(source))
        if not match:
            raise ValueError(
                f"cannot read condition {source!r}; write e.g. 'member.registered' or \"vars.answer == 'yes'\""
            )
        lit = match["lit"]
        return cls(source, match["path"], bool(match["neg"]), match["op"], _literal(lit) if lit is not None else None)

    def holds(self, state) -> bool:
        if self.path == "language":
            value = state.language
        else:
            scope, _, name = self.path.partition(".")
            value = (state.member if scope == "member" else state.vars).get(name)
        if self.op == "==":
            result = value == self.literal
        elif self.op == "!=":
            result = value != self.literal
        else:
            result = bool(value)
        return not result if self.negate else result
