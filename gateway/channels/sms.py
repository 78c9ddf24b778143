"""SMS rendering: one screen becomes one text message (split by the network if long)."""

from __future__ import annotations

from ..engine.events import Screen
from ..prompts import Catalog
from .text import screen_lines


def render(screen: Screen, catalog: Catalog, lang: str) -> str:
    return "\n".join(screen_lines(screen, catalog, lang))
