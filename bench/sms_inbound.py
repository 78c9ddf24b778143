"""Inbound SMS throughput with dedupe on: webhooks processed per second.

Posts Africa's Talking inbound-SMS webhooks to a production-style gateway
(gunicorn, real Redis, migrated database). Members text keywords and answers; a
share of the posts are redeliveries of an earlier message id, which must be
recognised and not processed again. Each processed message writes its inbound
row, the member, the reply's outbox row, and queues the reply job in Redis.
After the run the database is checked: one inbound row per distinct id.

    python bench/sms_inbound.py
    python bench/sms_inbound.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \\
                                --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time

from harness import Load, add_server_arguments, gateway, lao_mobile, percentile, post_form

TEXTS = ["HELP", "JOIN", "2", "Noy", "ຕໍ່ໄປ", "hello", "QUIZ", "STOP", "START"]


class Texts(Load):
    """Members texting keywords and answers; a share of posts are redeliveries."""

    def __init__(self, port: int, concurrency: int, seconds: float, duplicates: float):
        super().__init__(port, concurrency, seconds)
        self.duplicates = duplicates
        self.sent_ids: list[str] = []
        self.distinct: set[str] = set()
        self.counter = 0

    async def member(self, deadline: float) -> None:
        phone = lao_mobile(random.randrange(18 * 10**6))
        while time.perf_counter() < deadline:
            if self.sent_ids and random.random() < self.duplicates:
                message_id = random.choice(self.sent_ids)  # a redelivery
            else:
                self.counter += 1
                message_id = f"ATXid_bench_{self.counter}_{random.random()}"
                self.sent_ids.append(message_id)
            self.distinct.add(message_id)
            status, _, elapsed = await post_form(self.port, "/sms/africastalking", {
                "from": phone, "to": "20880", "text": random.choice(TEXTS), "id": message_id,
                "date": "2026-11-21 10:00:00", "linkId": ""})
            self.latencies.append(elapsed)
            if status != 200:
                self.errors += 1


def count_inbound(database_url: str) -> int:
    from sqlalchemy import func, select

    from gateway.store.database import Database
    from gateway.store.models import InboundMessage

    with Database(database_url).session() as db:
        return db.scalar(select(func.count()).select_from(InboundMessage))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--concurrency", type=int, default=16, help="members texting at once")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3, help="report the median run")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of redeliveries")
    args = parser.parse_args()

    with gateway(args) as (port, description, database_url, _, _):
        results, distinct = [], set()
        for run in range(args.runs):
            load = Texts(port, args.concurrency, args.seconds, args.duplicates)
            elapsed = asyncio.run(load.run())
            distinct |= load.distinct
            posts = len(load.latencies)
            rate = posts / elapsed
            results.append((rate, statistics.median(load.latencies) * 1000,
                            percentile(load.latencies, 0.99) * 1000, load.errors))
            print(f"run {run + 1}: {posts} webhooks in {elapsed:.1f}s = {rate:,.0f}/s "
                  f"({len(load.distinct)} distinct ids); p50 {results[-1][1]:.1f} ms, "
                  f"p99 {results[-1][2]:.1f} ms; errors {load.errors}", flush=True)
        stored = count_inbound(database_url)
        median = sorted(results)[len(results) // 2]
        exact = "exact" if stored == len(distinct) else f"WRONG: {stored} stored for {len(distinct)} distinct"
        print(f"\nmedian of {args.runs}: {median[0]:,.0f} inbound webhooks/s, p50 {median[1]:.1f} ms, "
              f"p99 {median[2]:.1f} ms; dedupe {exact}  (concurrency={args.concurrency}, {description})")
        return 0 if stored == len(distinct) and median[3] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
