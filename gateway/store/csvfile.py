"""Reading organisers' CSV files: spreadsheets saved as CSV, often with a BOM."""

from __future__ import annotations

import codecs
import csv
import re
import io
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from gateway.errors import ImportRowError, InputProblem

T = TypeVar("T")


def read_rows(
    path: Path | str, required: tuple[str, ...], columns: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV file; see ``rows_from_text``."""
    text, _ = decode(Path(path).read_bytes())
    yield from rows_from_text(text, required, columns)


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in.

    Excel saves "CSV UTF-8" with a byte-order mark, plain "CSV" in the Windows code
    page (Windows-1252 on an English Windows), and "Unicode text" as UTF-16. UTF-8
    is tried first (a Windows-1252 file with accents is almost never valid UTF-8),
    then Windows-1252, which cannot hold Lao: Excel has already turned Lao letters
    into "?" in such a file, so the caller should say so. Raises ``InputProblem``
    when the file is none of these.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        tries = ("utf-16",)
    else:
        tries = ("utf-8-sig", "cp1252")
    for encoding in tries:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\0" not in text:  # a spreadsheet's binary format (.xlsx) or an image, not text
            return text, {"utf-8-sig": "utf-8", "cp1252": "windows-1252"}.get(encoding, encoding)
        break
    raise InputProblem(
        "the file is not a CSV file we can read; in Excel choose "
        "File > Save As > CSV UTF-8 (comma delimited) and try again"
    )


def rows_from_text(
    text: str, required: tuple[str, ...], columns: tuple[str, ...] = (), aliases: dict[str, str] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with headers lower-cased and values stripped. A header
    in ``aliases`` (another language's name for a column) is read as the column it names.

    Raises ``ImportRowError`` for line 1 when a required column is missing, before
    any row is yielded, so a wrong file is rejected whole.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    folded = {name.strip().lower(): column for name, column in (aliases or {}).items()}
    headers = [folded.get(h.strip().lower(), h.strip().lower()) for h in reader.fieldnames or []]
    missing = [name for name in required if name not in headers]
    if missing:
        problem = InputProblem(
            "missing column(s) %(missing)s; the header should be %(header)s",
            missing=", ".join(missing),
            header=",".join(columns or required),
        )
        raise ImportRowError(1, str(problem), problem)
    reader.fieldnames = headers
    for row in reader:
        if all(not (v or "").strip() for k, v in row.items() if k is not None):
            continue  # blank line
        if None in row:
            problem = InputProblem("more values than columns")
            raise ImportRowError(reader.line_num, str(problem), problem)
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def split_list(text: str) -> list[str]:
    """Topics in one cell: ``nutrition; wash`` or ``nutrition|wash``."""
    for sep in (";", "|", ","):
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text.strip()] if text.strip() else []


def checked_rows(
    rows: Iterable[tuple[int, dict[str, str]]], convert: Callable[[dict], T], rejected: list[ImportRowError]
) -> Iterator[tuple[int, T]]:
    """Yield (line, converted row); a row whose ``convert`` raises ValueError is
    recorded in ``rejected`` with its line and reason, and skipped."""
    for line, row in rows:
        try:
            yield line, convert(row)
        except ValueError as exc:
            rejected.append(ImportRowError(line, str(exc), exc if isinstance(exc, InputProblem) else None))


_NUMBER = re.compile(r"[+-][\d .]*")


def plain_cell(cell):
    """A cell a spreadsheet will not run: names and replies are typed by members, and
    ``=HYPERLINK(...)`` typed as a name must not run in Excel. Cells starting with
    = @ + - (or a tab or return) get a leading apostrophe, except numbers such as a
    phone number ``+85620...``."""
    if isinstance(cell, str) and cell[:1] in ("=", "@", "+", "-", "\t", "\r") and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def plain_row(row):
    """``row`` (a list, or a dict's values kept as a dict) with every cell made plain."""
    if isinstance(row, dict):
        return {key: plain_cell(value) for key, value in row.items()}
    return [plain_cell(cell) for cell in row]
