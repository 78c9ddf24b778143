"""A screen as lines of text in the member's language. Shared by USSD and SMS."""

from __future__ import annotations

from gateway.content.prompts import Catalog
from gateway.engine.events import Screen

# A toggled multi-select item is prefixed with this; ASCII so any handset shows it.
SELECTED_MARK = "[+] "


def screen_lines(screen: Screen, catalog: Catalog, lang: str) -> list[str]:
    lines: list[str] = []
    if screen.notice is not None:
        lines.extend(catalog.render(screen.notice, lang).splitlines())
    prompt = catalog.render(screen.prompt, lang)
    if screen.header is not None:
        prompt = f"{catalog.render(screen.header, lang)} {prompt}"
    lines.extend(line for line in prompt.splitlines() if line.strip())
    for option in screen.options:
        mark = SELECTED_MARK if option.selected else ""
        lines.append(f"{option.key}. {mark}{catalog.render(option.label, lang)}")
    return lines
