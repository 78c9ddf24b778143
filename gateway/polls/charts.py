"""Labelled horizontal bar charts as PNG or SVG, readable in Lao and English.

One layout, measured with the shipped Lao font (``gateway/polls/fonts``), is drawn two
ways: Pillow for PNG (with libraqm, Lao vowel and tone marks stack as they should)
and plain SVG with the font embedded, so labels stay real text a report can search.
"""

from __future__ import annotations

import base64
import logging
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont, features

log = logging.getLogger(__name__)
FONT = Path(__file__).with_name("fonts") / "Phetsarath_OT.ttf"
FAMILY = "Phetsarath OT"
WIDTH, PAD, BAR_H, GAP = 1000, 40, 34, 14
TITLE_SIZE, TEXT_SIZE, SMALL_SIZE = 30, 21, 17
BAR_COLOUR, TEXT_COLOUR, MUTED_COLOUR, GRID_COLOUR = "#2b6cb0", "#1a202c", "#4a5568", "#e2e8f0"


@dataclass
class Bar:
    label: str
    value: float
    note: str  # printed after the bar, e.g. "120 (34.5%)"


@dataclass
class Chart:
    title: str
    subtitle: str
    bars: list[Bar]
    scale_max: float | None = None  # e.g. 100 for percentages; default: the largest value
    footer: str = ""


@dataclass
class _Piece:
    kind: str  # text | rect | line
    x: float
    y: float
    text: str = ""
    size: int = TEXT_SIZE
    colour: str = TEXT_COLOUR
    w: float = 0
    h: float = 0
    anchor: str = "start"  # start | end (text only)


@dataclass
class _Layout:
    height: int
    pieces: list[_Piece] = field(default_factory=list)
    width: int = WIDTH


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    if engine == ImageFont.Layout.BASIC:
        log.warning("Pillow has no libraqm here (install libfribidi0); Lao marks may overlap in PNG charts")
    return ImageFont.truetype(str(FONT), size, layout_engine=engine)


def _width(text: str, size: int) -> float:
    return _font(size).getlength(text)


def _wrap(text: str, size: int, width: float) -> list[str]:
    """Break at spaces; a run with no spaces (Lao writes none between words) is
    broken between characters, never before a combining vowel or tone mark."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if current and _width(current + char, size) > width and unicodedata.category(char) != "Mn":
                lines.append(current)
                current = ""
            current += char
    if current:
        lines.append(current)
    return lines or [""]


# A phone's chart: the same words and sizes on a narrower canvas (labels wrap more),
# so that on a 390 px screen its smallest words are still about 12 px high.
NARROW = 480


def layout(chart: Chart, width: int = WIDTH) -> _Layout:
    pieces: list[_Piece] = []
    y = PAD
    for line in _wrap(chart.title, TITLE_SIZE, width - 2 * PAD):
        pieces.append(_Piece("text", PAD, y, line, TITLE_SIZE))
        y += TITLE_SIZE * 1.5
    for line in _wrap(chart.subtitle, SMALL_SIZE, width - 2 * PAD):
        pieces.append(_Piece("text", PAD, y, line, SMALL_SIZE, MUTED_COLOUR))
        y += SMALL_SIZE * 1.6
    y += GAP
    label_width = min(max((_width(b.label, TEXT_SIZE) for b in chart.bars), default=0), width * 0.38)
    note_width = max((_width(b.note, TEXT_SIZE) for b in chart.bars), default=0) + 12
    bar_x = PAD + label_width + 16
    bar_room = max(width - PAD - note_width - bar_x, 100)
    top = max((b.value for b in chart.bars), default=0)
    scale = chart.scale_max or top or 1
    for bar in chart.bars:
        lines = _wrap(bar.label, TEXT_SIZE, label_width) if bar.label else [""]
        row_h = max(BAR_H, len(lines) * TEXT_SIZE * 1.4)
        for n, line in enumerate(lines):
            pieces.append(_Piece("text", bar_x - 16, y + n * TEXT_SIZE * 1.4 + 3, line, anchor="end"))
        pieces.append(_Piece("rect", bar_x, y, colour=GRID_COLOUR, w=bar_room, h=BAR_H))
        length = bar_room * max(bar.value, 0) / scale
        if length > 0:
            pieces.append(_Piece("rect", bar_x, y, colour=BAR_COLOUR, w=max(length, 2), h=BAR_H))
        pieces.append(_Piece("text", bar_x + bar_room + 12, y + 3, bar.note))
        y += row_h + GAP
    if chart.footer:
        y += GAP
        pieces.append(_Piece("text", PAD, y, chart.footer, SMALL_SIZE, MUTED_COLOUR))
        y += SMALL_SIZE * 1.6
    return _Layout(int(y + PAD), pieces, width)


def save(chart: Chart, path: Path | str) -> Path:
    """Write ``chart`` as PNG or SVG, by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"a chart is a .png or .svg file, not {path.name!r}")
    drawn = layout(chart)
    if suffix == ".png":
        _png(drawn).save(path, optimize=True)
    else:
        path.write_text(_svg(drawn), encoding="utf-8")
    return path


def svg(chart: Chart, embed_font: bool = True, width: int = WIDTH) -> str:
    """``chart`` as SVG text. A page that already loads the Lao font (the dashboard)
    leaves it out, which saves ~125 KB per chart."""
    return _svg(layout(chart, width), embed_font)


def _png(drawn: _Layout) -> Image.Image:
    image = Image.new("RGB", (drawn.width, drawn.height), "white")
    draw = ImageDraw.Draw(image)
    for piece in drawn.pieces:
        if piece.kind == "rect":
            draw.rectangle([piece.x, piece.y, piece.x + piece.w, piece.y + piece.h], fill=piece.colour)
        else:
            x = piece.x - _width(piece.text, piece.size) if piece.anchor == "end" else piece.x
            draw.text((x, piece.y), piece.text, font=_font(piece.size), fill=piece.colour)
    return image


def _svg(drawn: _Layout, embed_font: bool = True) -> str:
    face = ""
    if embed_font:
        font = base64.b64encode(FONT.read_bytes()).decode("ascii")
        face = f"@font-face{{font-family:'{FAMILY}';src:url(data:font/ttf;base64,{font}) format('truetype');}} "
    # The font as a presentation attribute, not a <style>: the dashboard's
    # Content-Security-Policy allows no inline style. A file of its own carries the
    # font itself, in a <style> that only a standalone SVG needs.
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{drawn.width}" height="{drawn.height}" '
        f'viewBox="0 0 {drawn.width} {drawn.height}" role="img" '
        f"font-family=\"'{FAMILY}', 'Noto Sans Lao', sans-serif\">",
        f"<style>{face}</style>" if embed_font else "",
        f'<rect width="{drawn.width}" height="{drawn.height}" fill="white"/>',
    ]
    for piece in drawn.pieces:
        if piece.kind == "rect":
            parts.append(
                f'<rect x="{piece.x:.1f}" y="{piece.y:.1f}" width="{piece.w:.1f}" '
                f'height="{piece.h:.1f}" fill="{piece.colour}"/>'
            )
        else:
            # SVG places text by its baseline; Pillow by its top.
            parts.append(
                f'<text x="{piece.x:.1f}" y="{piece.y + piece.size * 0.9:.1f}" '
                f'font-size="{piece.size}" fill="{piece.colour}" '
                f'text-anchor="{piece.anchor}">{escape(piece.text)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)
