"""Inbound SMS throughput with dedupe on, and how soon members get their replies.

Posts Africa's Talking inbound-SMS webhooks to a production-style gateway
(gunicorn, real Redis, migrated database) with one real ``outreach worker``
sending replies (Africa's Talking's HTTP API, posted directly) to a local fake Africa's Talking.
Members text keywords and answers; a share of the posts are redeliveries of an
earlier message id, which must be recognised and not processed again.

The webhook stores each text in the inbox and answers; the worker's drainer
process takes them in batches (the inbound row, the member, the reply's outbox
row) and a thread of it sends the replies. Reported per run: webhooks per
second, the webhook's latency, how long the inbox took to empty after the load
stopped, the reply latency (from the post of a text to the fake provider
receiving a message for that member), and the CPU each text cost each part (web
workers, the worker with its drainer, Redis, PostgreSQL, and the load generator
with the fake provider in it), from the load's start until its replies are sent.
After the runs the database is checked: one inbound row per distinct id.

    python bench/sms_inbound.py
    python bench/sms_inbound.py --members 5000     # 16 at once, from 5,000 members
    python bench/sms_inbound.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \\
                                --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import random
import statistics
import sys
import time

from harness import (
    CpuMeter,
    FakeAT,
    Load,
    add_server_arguments,
    count_inbound,
    gateway,
    inbox_waiting,
    lao_mobile,
    percentile,
    post_form,
    start_fake_at,
    worker,
)

TEXTS = ["HELP", "JOIN", "2", "Noy", "ຕໍ່ໄປ", "hello", "QUIZ", "STOP", "START"]


class Texts(Load):
    """Members texting keywords and answers; a share of posts are redeliveries."""

    def __init__(self, port: int, concurrency: int, seconds: float, duplicates: float, members: int = 0):
        super().__init__(port, concurrency, seconds)
        self.duplicates = duplicates
        self.sent_ids: list[str] = []
        self.distinct: set[str] = set()
        self.counter = 0
        self.posted: dict[str, list[float]] = {}  # phone -> when each of her texts was posted
        # With ``members``, each text comes from one of that many members who is not
        # waiting on a text of hers already; without, each connection is one member
        # texting again the moment the webhook answers.
        self.pool = [lao_mobile(random.randrange(18 * 10**6)) for _ in range(members)]
        self.busy: set[str] = set()

    def _next_phone(self, own: str) -> str:
        if not self.pool:
            return own
        while True:
            phone = random.choice(self.pool)
            if phone not in self.busy:
                return phone

    async def member(self, deadline: float) -> None:
        own = lao_mobile(random.randrange(18 * 10**6))
        while time.perf_counter() < deadline:
            phone = self._next_phone(own)
            self.busy.add(phone)
            if self.sent_ids and random.random() < self.duplicates:
                message_id = random.choice(self.sent_ids)  # a redelivery
            else:
                self.counter += 1
                message_id = f"ATXid_bench_{self.counter}_{random.random()}"
                self.sent_ids.append(message_id)
            self.distinct.add(message_id)
            self.posted.setdefault(phone, []).append(time.perf_counter())
            status, _, elapsed = await post_form(
                self.port,
                "/sms/africastalking",
                {
                    "from": phone,
                    "to": "20880",
                    "text": random.choice(TEXTS),
                    "id": message_id,
                    "date": "2026-11-21 10:00:00",
                    "linkId": "",
                },
            )
            self.busy.discard(phone)
            self.latencies.append(elapsed)
            if status != 200:
                self.errors += 1


def unsent_replies(database_url: str) -> int:
    from sqlalchemy import func, select

    from gateway.store.database import Database
    from gateway.store.models import OutboundMessage

    with Database(database_url).session() as db:
        return db.scalar(
            select(func.count()).select_from(OutboundMessage).where(OutboundMessage.status.in_(("queued", "sending")))
        )


def reply_latencies(posted: dict[str, list[float]], since: float) -> list[float]:
    """For each reply the fake provider received: seconds since the latest text she
    posted before it (each member texts one at a time, so that is the one answered)."""
    latencies = []
    for phone, arrivals in FakeAT.arrivals.items():
        times = posted.get(phone, [])
        for arrived in arrivals:
            if arrived < since:
                continue
            n = bisect.bisect_right(times, arrived)
            if n:
                latencies.append(arrived - times[n - 1])
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--concurrency", type=int, default=16, help="members texting at once")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3, help="report the median run")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of redeliveries")
    parser.add_argument(
        "--members",
        type=int,
        default=0,
        help="texts come from this many members, one text of hers at a time (default: "
        "one member per connection, each texting again at once: the hardest case "
        "for keeping her replies in order)",
    )
    args = parser.parse_args()
    if 0 < args.members < 2 * args.concurrency:
        parser.error(
            "--members must be at least twice --concurrency (or 0): each text needs a member "
            "who is not waiting on one already"
        )

    fake, provider_settings = start_fake_at()
    with gateway(args, **provider_settings) as running:
        stored_before = count_inbound(running.database_url)
        with worker(running.env) as worker_process:
            results, distinct = [], set()
            for run in range(args.runs):
                load = Texts(running.port, args.concurrency, args.seconds, args.duplicates, args.members)
                meter = CpuMeter(running.pid, worker=worker_process.pid)
                started = time.perf_counter()
                elapsed = asyncio.run(load.run())
                ended = time.perf_counter()
                processed_after = None
                while True:
                    waiting = inbox_waiting(running.database_url)
                    if not waiting and processed_after is None:
                        processed_after = time.perf_counter() - ended
                    if (not waiting and not unsent_replies(running.database_url)) or time.perf_counter() - ended > 120:
                        break
                    time.sleep(0.05)
                backlog = time.perf_counter() - ended
                cpu = meter.per_request_us(len(load.latencies))
                time.sleep(0.5)  # the last replies' requests
                distinct |= load.distinct
                posts = len(load.latencies)
                rate = posts / elapsed
                replies = reply_latencies(load.posted, started)
                results.append(
                    (
                        rate,
                        statistics.median(load.latencies) * 1000,
                        percentile(load.latencies, 0.99) * 1000,
                        load.errors,
                        backlog,
                        percentile(replies, 0.5) if replies else float("nan"),
                        percentile(replies, 0.99) if replies else float("nan"),
                    )
                )
                print(
                    f"run {run + 1}: {posts} webhooks in {elapsed:.1f}s = {rate:,.0f}/s "
                    f"({len(load.distinct)} distinct ids); webhook p50 {results[-1][1]:.1f} ms, "
                    f"p99 {results[-1][2]:.1f} ms; errors {load.errors}; inbox empty "
                    f"{processed_after if processed_after is not None else float('nan'):.1f} s and "
                    f"replies sent {backlog:.1f} s after the load; {len(replies)} replies: p50 {results[-1][5]:.2f} s, "
                    f"p99 {results[-1][6]:.2f} s",
                    flush=True,
                )
                print(
                    "        CPU per webhook " + " ".join(f"{part} {us:,.0f}" for part, us in cpu.items()) + " µs",
                    flush=True,
                )
        fake.shutdown()
        stored = count_inbound(running.database_url) - stored_before
        waiting = inbox_waiting(running.database_url)
        median = sorted(results)[len(results) // 2]
        exact = "exact" if stored == len(distinct) else f"WRONG: {stored} stored for {len(distinct)} distinct"
        print(
            f"\nmedian of {args.runs}: {median[0]:,.0f} inbound webhooks/s, p50 {median[1]:.1f} ms, "
            f"p99 {median[2]:.1f} ms; replies p50 {median[5]:.2f} s, p99 {median[6]:.2f} s; "
            f"dedupe {exact}; {waiting} left in the inbox  "
            f"(concurrency={args.concurrency}, members={args.members or args.concurrency}, {running.description})"
        )
        print(
            f"the fake provider received {sum(FakeAT.accepted.values()):,} replies for {len(FakeAT.accepted):,} members"
        )
        return 0 if stored == len(distinct) and median[3] == 0 and not waiting else 1


if __name__ == "__main__":
    sys.exit(main())
