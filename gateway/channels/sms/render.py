"""SMS rendering: one screen becomes one text message (split by the network if long)."""

from __future__ import annotations

from gateway.channels.text import screen_lines
from gateway.content.prompts import Catalog
from gateway.engine.events import Screen


def render(screen: Screen, catalog: Catalog, lang: str) -> str:
    return "\n".join(screen_lines(screen, catalog, lang))
