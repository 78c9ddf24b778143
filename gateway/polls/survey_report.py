"""A survey's results: each question's answers overall, by province and by language.

The report is plain data (lists, dicts, numbers, strings), so the same thing is
shown live, stored as a closed sensitive survey's totals, and written as CSV.

**Sensitive surveys** are reported in aggregate only:
- nothing is shown until at least ``MIN_GROUP`` members have answered;
- a province or language with fewer than ``MIN_GROUP`` answers is hidden, and if
  the hidden ones add up to fewer than ``MIN_GROUP`` (so the total minus the
  shown groups would reveal them), the next smallest groups are hidden too;
- short texts are listed without who, where or when: each different text once,
  with how many wrote it, most written first;
- the export holds the same totals, never a row per member.
"""

from __future__ import annotations

from statistics import median
from typing import Any, Iterable

from gateway.content.survey import SCALE
from gateway.polls.results import UNKNOWN

MIN_GROUP = 5
DIMENSIONS = ("province", "language")


def compute(name: str, entry: dict, rows: Iterable[Any], sensitive: bool) -> dict:
    """The report of survey ``name`` (``entry``: its kinds and option counts, from
    ``content.survey.listed``) over its response rows."""
    rows = list(rows)
    kinds, options = list(entry["kinds"]), list(entry["options"])
    report: dict[str, Any] = {
        "survey": name,
        "sensitive": sensitive,
        "responses": len(rows),
        "hidden": {},
        "withheld": False,
        "questions": [],
    }
    if sensitive and len(rows) < MIN_GROUP:
        report["withheld"] = True  # too few to show anything without pointing at someone
        return report
    shown: dict[str, set[str]] = {}
    for dimension in DIMENSIONS:
        sizes: dict[str, int] = {}
        for row in rows:
            key = getattr(row, dimension) or UNKNOWN
            sizes[key] = sizes.get(key, 0) + 1
        keep, hidden = _suppressed(sizes) if sensitive else (set(sizes), 0)
        shown[dimension] = keep
        report["hidden"][dimension] = {"groups": len(sizes) - len(keep), "answers": hidden}
    for number, kind in enumerate(kinds, start=1):
        question: dict[str, Any] = {"number": number, "kind": kind}
        values = [(row, row.answers[number - 1]) for row in rows if len(row.answers) >= number]
        if kind == "text":
            texts = [str(value) for _, value in values if value]
            if sensitive:
                counted: dict[str, int] = {}
                for text in texts:
                    counted[text] = counted.get(text, 0) + 1
                question["texts"] = [
                    [text, n] for text, n in sorted(counted.items(), key=lambda item: (-item[1], item[0].casefold()))
                ]
            else:
                question["texts"] = [
                    {"text": str(value), "province": row.province or UNKNOWN, "language": row.language or UNKNOWN}
                    for row, value in values
                    if value
                ]
            question["answered"] = len(texts)
        else:
            scale = range(SCALE[0], SCALE[1] + 1) if kind == "scale" else range(1, options[number - 1] + 1)
            question["values"] = list(scale)
            question["overall"] = _counts([v for _, v in values], scale)
            question["answered"] = sum(question["overall"])
            numbers = [v for _, v in values if isinstance(v, int)]
            question["median"] = median(numbers) if kind == "scale" and numbers else None
            for dimension in DIMENSIONS:
                groups: dict[str, list] = {}
                for row, value in values:
                    key = getattr(row, dimension) or UNKNOWN
                    if key in shown[dimension]:
                        groups.setdefault(key, []).append(value)
                question[f"by_{dimension}"] = {key: _counts(found, scale) for key, found in sorted(groups.items())}
        report["questions"].append(question)
    return report


def _suppressed(sizes: dict[str, int]) -> tuple[set[str], int]:
    """The groups that may be shown, and how many answers the hidden ones hold."""
    keep = {key for key, n in sizes.items() if n >= MIN_GROUP}
    hidden = sum(n for key, n in sizes.items() if key not in keep)
    while keep and 0 < hidden < MIN_GROUP:
        smallest = min(keep, key=lambda key: (sizes[key], key))
        keep.discard(smallest)
        hidden += sizes[smallest]
    return keep, hidden


def _counts(values: list, scale: range) -> list[int]:
    counts = [0] * len(scale)
    for value in values:
        if isinstance(value, int) and value in scale:
            counts[value - scale.start] += 1
    return counts


def table(report: dict, labels: dict, headings: dict, rows: Iterable[Any] = ()) -> list[list]:
    """The CSV: a sensitive survey's totals (the report's own, groups hidden as on
    the page), or one line per answer for an ordinary one. ``labels`` turns a
    question's value, a province and a language into words; ``headings`` names
    the columns in the reader's language."""
    if report["sensitive"]:
        out = [[headings["question"], headings["breakdown"], headings["group"], headings["answer"], headings["count"]]]
        for question in report["questions"]:
            number = question["number"]
            if question["kind"] == "text":
                out += [[number, headings["all"], "", text, count] for text, count in question["texts"]]
                continue
            groups = [(headings["all"], "", question["overall"])]
            for dimension in DIMENSIONS:
                groups += [
                    (headings[dimension], labels[dimension](key), counts)
                    for key, counts in question[f"by_{dimension}"].items()
                ]
            for breakdown, group, counts in groups:
                out += [
                    [number, breakdown, group, labels["value"](number, value), count]
                    for value, count in zip(question["values"], counts)
                ]
        return out
    kinds = [q["kind"] for q in report["questions"]]
    out = [
        [headings["response"], headings["answered"], headings["province"], headings["language"], headings["channel"]]
        + [f"{headings['question']} {n}" for n in range(1, len(kinds) + 1)]
    ]
    for index, row in enumerate(rows, start=1):
        out.append(
            [
                index,
                labels["moment"](row.answered_at),
                labels["province"](row.province or UNKNOWN),
                labels["language"](row.language or UNKNOWN),
                row.channel,
            ]
            + [
                labels["value"](n, value) if kind == "choice" else value
                for n, (kind, value) in enumerate(zip(kinds, row.answers), start=1)
            ]
        )
    return out
