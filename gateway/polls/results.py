"""A poll's results: the tally, who it reached, breakdowns and the replies that did not count.

The tally is one grouped scan of the ``ix_poll_votes_tally`` index (option,
province, language are on the vote row), so it stays fast at 100,000 votes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.content.prompts import Catalog
from gateway.engine import Text
from gateway.polls.charts import Bar, Chart
from gateway.polls.poll import SENT, label
from gateway.store.models import OutboundMessage, Poll, PollReply, PollVote

UNKNOWN = "(not given)"


@dataclass
class Tally:
    """Votes per option (index 0 is option 1) for one group of members."""

    votes: list[int]

    @property
    def total(self) -> int:
        return sum(self.votes)

    def percent(self, index: int) -> float:
        return 100.0 * self.votes[index] / self.total if self.total else 0.0


@dataclass
class Results:
    poll: Poll
    labels: list[str]
    overall: Tally
    reached: int  # question sent (or probably sent) to this many members
    by_province: dict[str, Tally] = field(default_factory=dict)
    by_language: dict[str, Tally] = field(default_factory=dict)
    invalid: list[tuple[datetime, str, str]] = field(default_factory=list)  # (when, reason, text)
    invalid_count: int = 0

    @property
    def answered(self) -> int:
        return self.overall.total

    @property
    def response_rate(self) -> float | None:
        return 100.0 * self.answered / self.reached if self.reached else None


def compute(db: Session, poll: Poll, lang: str, invalid_limit: int = 20) -> Results:
    count = len(poll.options)
    overall = Tally([0] * count)
    by_province: dict[str, Tally] = defaultdict(lambda: Tally([0] * count))
    by_language: dict[str, Tally] = defaultdict(lambda: Tally([0] * count))
    rows = db.execute(
        select(PollVote.option, PollVote.province, PollVote.language, func.count())
        .where(PollVote.poll_id == poll.id)
        .group_by(PollVote.option, PollVote.province, PollVote.language)
    )
    for option, province, language, votes in rows:
        if not 1 <= option <= count:
            continue
        for tally in (overall, by_province[province or UNKNOWN], by_language[language or UNKNOWN]):
            tally.votes[option - 1] += votes
    reached = 0
    if poll.broadcast_id is not None:
        reached = (
            db.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(OutboundMessage.broadcast_id == poll.broadcast_id, OutboundMessage.status.in_(SENT))
            )
            or 0
        )
    invalid_count = db.scalar(select(func.count(PollReply.id)).where(PollReply.poll_id == poll.id)) or 0
    invalid = [
        tuple(row)
        for row in db.execute(
            select(PollReply.received_at, PollReply.reason, PollReply.text)
            .where(PollReply.poll_id == poll.id)
            .order_by(PollReply.received_at.desc(), PollReply.id.desc())
            .limit(invalid_limit)
        )
    ]
    return Results(
        poll,
        [label(option, lang) for option in poll.options],
        overall,
        reached,
        dict(sorted(by_province.items())),
        dict(sorted(by_language.items())),
        invalid,
        invalid_count,
    )


def table(results: Results) -> list[list]:
    """The same data as rows, for CSV: group, value, option number, label, votes, percent."""
    rows: list[list] = [["group", "value", "option", "label", "votes", "percent"]]
    groups = [("all", "all", results.overall)]
    groups += [("province", name, tally) for name, tally in results.by_province.items()]
    groups += [("language", name, tally) for name, tally in results.by_language.items()]
    for group, value, tally in groups:
        for index, text in enumerate(results.labels):
            rows.append([group, value, index + 1, text, tally.votes[index], f"{tally.percent(index):.1f}"])
    rows.append(["reach", "reached", "", "", results.reached, ""])
    rows.append(
        [
            "reach",
            "answered",
            "",
            "",
            results.answered,
            "" if results.response_rate is None else f"{results.response_rate:.1f}",
        ]
    )
    rows.append(["reach", "not counted", "", "", results.invalid_count, ""])
    return rows


def chart(results: Results, lang: str, catalog: Catalog, now: datetime) -> Chart:
    """A bar per option, titled with the question, its dates and n."""
    poll = results.poll
    rate = "–" if results.response_rate is None else f"{results.response_rate:.1f}%"
    subtitle = catalog.render(
        Text(
            "report.poll_subtitle",
            {
                "code": poll.code,
                "opens": catalog.format_day(poll.opens_at, lang),
                "closes": catalog.format_day(poll.closed_at or poll.closes_at, lang),
                "answered": f"{results.answered:,}",
                "reached": f"{results.reached:,}",
                "rate": rate,
            },
        ),
        lang,
    )
    bars = [
        Bar(
            f"{n}. {text}",
            results.overall.votes[n - 1],
            f"{results.overall.votes[n - 1]:,} ({results.overall.percent(n - 1):.1f}%)",
        )
        for n, text in enumerate(results.labels, start=1)
    ]
    footer = catalog.render(Text("report.footer", {"made": catalog.format_day(now, lang)}), lang)
    # Bars measure the share of all answers, so three equal options are each a third long.
    return Chart(label(poll.questions, lang), subtitle, bars, scale_max=max(results.answered, 1), footer=footer)
