"""Hop table: USSD screens per flow and language, walked as a member would.

Each flow is walked through the real webhook on a throwaway instance (its own
SQLite file and embedded Redis): she presses 98 until she sees the option she
wants, then picks it; screens are counted from the dial to the screen where the
flow is over. These are the numbers ``tests/test_hops.py`` asserts against each
flow's ``hop_budget``. Not a timing benchmark: it counts.

    python bench/hops.py            # print the table
    python bench/hops.py --write    # and put it in docs/flows.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.hops import count_on_a_throwaway_instance, problems, table

DOC = Path(__file__).resolve().parent.parent / "docs" / "flows.md"
START, END = "<!-- hops:start -->", "<!-- hops:end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"replace the table in {DOC.name}")
    args = parser.parse_args()
    counts = count_on_a_throwaway_instance()
    text = table(counts)
    print(text)
    found = problems(counts)
    for problem in found:
        print("OVER BUDGET:", problem)
    if args.write:
        doc = DOC.read_text(encoding="utf-8")
        before, _, rest = doc.partition(START)
        _, _, after = rest.partition(END)
        DOC.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")
        print(f"written to {DOC}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
