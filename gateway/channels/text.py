"""A screen as lines of text in the member's language. Shared by USSD and SMS."""

from __future__ import annotations

from gateway.content.prompts import Catalog
from gateway.engine.events import Screen


def screen_lines(screen: Screen, catalog: Catalog, lang: str, brief: bool = False) -> list[str]:
    """The notice ("Right!"), the header ("2/7") and the prompt run on as one line:
    on an 80-character Lao page the line breaks between them cost room that the
    options need. ``brief`` leaves the header and prompt out (a retry that would
    not fit otherwise: the notice and the options, which she has just read)."""
    lead = [
        catalog.render(text, lang)
        for text in (screen.notice, screen.header)
        if text is not None and not (brief and text is screen.header)
    ]
    prompt = [] if brief else [line for line in catalog.render(screen.prompt, lang).splitlines() if line.strip()]
    lines = [" ".join(lead + prompt[:1])] + prompt[1:] if lead or prompt else []
    for option in screen.options:
        lines.append(f"{option.key}. {catalog.render(option.label, lang)}")
    return lines
