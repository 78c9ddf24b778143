"""Reading organisers' CSV files: spreadsheets saved as CSV, often with a BOM."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from gateway.errors import ImportRowError

T = TypeVar("T")


def read_rows(path: Path | str, required: tuple[str, ...],
              columns: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with headers lower-cased and values stripped.

    Raises ``ImportRowError`` for line 1 when a required column is missing, before
    any row is yielded, so a wrong file is rejected whole.
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        headers = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [name for name in required if name not in headers]
        if missing:
            raise ImportRowError(1, f"missing column(s) {', '.join(missing)}; "
                                    f"the header should be {','.join(columns or required)}")
        reader.fieldnames = headers
        for row in reader:
            if all(not (v or "").strip() for k, v in row.items() if k is not None):
                continue  # blank line
            if None in row:
                raise ImportRowError(reader.line_num, "more values than columns")
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def split_list(text: str) -> list[str]:
    """Topics in one cell: ``nutrition; wash`` or ``nutrition|wash``."""
    for sep in (";", "|", ","):
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text.strip()] if text.strip() else []


def checked_rows(rows: Iterable[tuple[int, dict[str, str]]], convert: Callable[[dict], T],
                 rejected: list[ImportRowError]) -> Iterator[tuple[int, T]]:
    """Yield (line, converted row); a row whose ``convert`` raises ValueError is
    recorded in ``rejected`` with its line and reason, and skipped."""
    for line, row in rows:
        try:
            yield line, convert(row)
        except ValueError as exc:
            rejected.append(ImportRowError(line, str(exc)))
