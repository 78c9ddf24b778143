"""Poll replies per second through the Africa's Talking SMS webhook, and the results query.

Sets up N registered members who were all sent poll P1's question (rows written
straight into the database, as a finished broadcast leaves them), then posts one
reply per member to a production-style gateway (gunicorn, real Redis, and an
``outreach worker`` whose inbox drainer counts the votes), in every form members
use: 2, ໒, b, the option's word in Lao or English, "P1 2". A share of posts are
redeliveries of an earlier message id, which must not count again.

Afterwards, once the inbox is empty, the tally is compared with what was sent
(it must be exact), and
``poll_results.compute`` is timed at that many votes.

    python bench/poll_replies.py                      # 100,000 replies, SQLite + embedded Redis
    python bench/poll_replies.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \\
                                 --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

from harness import CpuMeter, add_server_arguments, gateway, lao_mobile, percentile, post_form, wait_for_inbox, worker

OPTIONS = [
    {"en": "Feeding babies", "lo": "ການລ້ຽງລູກອ່ອນ"},
    {"en": "Clean water", "lo": "ນ້ຳສະອາດ"},
    {"en": "Staying safe online", "lo": "ຄວາມປອດໄພອອນລາຍ"},
]
LAO_DIGITS = "໐໑໒໓໔໕໖໗໘໙"
PROVINCES = ["vientiane_capital", "bokeo", "saravane", "champasak", "luang_prabang", "savannakhet"]


def phone(n: int) -> str:
    return lao_mobile(n)


def reply_text(option: int, rng: random.Random) -> str:
    """One of the forms members really send for ``option`` (1-based)."""
    form = rng.randrange(6)
    if form == 0:
        return str(option)
    if form == 1:
        return LAO_DIGITS[option]
    if form == 2:
        return "abc"[option - 1].upper() if rng.random() < 0.5 else "abc"[option - 1]
    if form == 3:
        return OPTIONS[option - 1]["lo"]
    if form == 4:
        return OPTIONS[option - 1]["en"].lower()
    return f"P1 {option}"


def seed(database_url: str, members: int) -> int:
    """Members, a sent poll question for each, in bulk; returns the poll id."""
    from sqlalchemy import insert

    from gateway.store.database import Database
    from gateway.store.models import Broadcast, Member, Poll

    now = datetime.now(timezone.utc)
    database = Database(database_url)
    with database.session() as db:
        broadcast = Broadcast(name="poll P1", texts={"en": "Poll P1"}, audience={}, status="done")
        db.add(broadcast)
        db.flush()
        poll = Poll(
            code="P1",
            questions={"en": "Which topic next month?", "lo": "ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?"},
            options=OPTIONS,
            audience={},
            broadcast_id=broadcast.id,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=7),
        )
        db.add(poll)
        db.flush()
        poll_id, broadcast_id = poll.id, broadcast.id
    for start in range(0, members, 10_000):
        with database.session() as db:
            rows = [
                {
                    "phone": phone(n),
                    "name": f"Member {n}",
                    "language": "lo" if n % 3 else "en",
                    "province": PROVINCES[n % len(PROVINCES)],
                    "source": "import",
                    "consent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(start, min(start + 10_000, members))
            ]
            db.execute(insert(Member), rows)
    with database.engine.begin() as connection:  # one sent question per member
        connection.exec_driver_sql(
            "INSERT INTO outbound_messages (member_id, broadcast_id, kind, channel, body, encoding, segments,"
            " status, attempts, created_at, updated_at) SELECT id, %d, 'bulk', 'sms', 'Poll P1', 'GSM-7', 1,"
            " 'sent', 1, created_at, created_at FROM members" % broadcast_id
        )
    database.dispose()
    return poll_id


class Replies:
    """Every member answers once; a share of posts are redeliveries of an earlier id."""

    def __init__(self, port: int, members: int, concurrency: int, duplicates: float, seed_value: int):
        self.port, self.concurrency, self.duplicates = port, concurrency, duplicates
        self.rng = random.Random(seed_value)
        self.todo = list(range(members))
        self.rng.shuffle(self.todo)
        self.expected = [0, 0, 0]
        self.sent: list[dict] = []
        self.latencies: list[float] = []
        self.errors = 0

    async def worker(self) -> None:
        while self.todo:
            if self.sent and self.rng.random() < self.duplicates:
                form = self.rng.choice(self.sent)  # the provider delivers it again
            else:
                n = self.todo.pop()
                option = self.rng.randint(1, 3)
                self.expected[option - 1] += 1
                form = {
                    "from": phone(n),
                    "to": "20880",
                    "text": reply_text(option, self.rng),
                    "id": f"ATXid_poll_{n}",
                    "date": "2026-11-21 10:00:00",
                    "linkId": "",
                }
                self.sent.append(form)
            status, _, elapsed = await post_form(self.port, "/sms/africastalking", form)
            self.latencies.append(elapsed)
            if status != 200:
                self.errors += 1

    async def run(self) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(self.worker() for _ in range(self.concurrency)))
        return time.perf_counter() - started


def time_results(database_url: str, poll_id: int, repeats: int) -> tuple[list[int], list[float]]:
    from gateway.polls import results as poll_results
    from gateway.store.database import Database
    from gateway.store.models import Poll

    database = Database(database_url)
    timings = []
    for _ in range(repeats):
        with database.session() as db:
            poll = db.get(Poll, poll_id)
            started = time.perf_counter()
            results = poll_results.compute(db, poll, "en")
            timings.append(time.perf_counter() - started)
    database.dispose()
    return results.overall.votes, timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--replies", type=int, default=100_000, help="members, each replying once")
    parser.add_argument("--concurrency", type=int, default=32, help="webhooks in flight at once")
    parser.add_argument("--duplicates", type=float, default=0.02, help="share of posts that are redeliveries")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with gateway(args, QUIET_HOURS="off") as running, worker(running.env) as worker_process:
        started = time.perf_counter()
        poll_id = seed(running.database_url, args.replies)
        print(f"seeded {args.replies:,} members with a sent poll in {time.perf_counter() - started:.1f}s", flush=True)
        load = Replies(running.port, args.replies, args.concurrency, args.duplicates, args.seed)
        meter = CpuMeter(running.pid, worker=worker_process.pid)
        elapsed = asyncio.run(load.run())
        posts = len(load.latencies)
        print(
            f"{posts:,} webhooks ({args.replies:,} replies + {posts - args.replies:,} redeliveries) in "
            f"{elapsed:.1f}s = {posts / elapsed:,.0f} replies/s; p50 {statistics.median(load.latencies) * 1000:.1f} "
            f"ms, p99 {percentile(load.latencies, 0.99) * 1000:.1f} ms; errors {load.errors}",
            flush=True,
        )
        drained = wait_for_inbox(running.database_url)
        cpu = meter.per_request_us(posts)
        if drained is None:
            print("the inbox was NOT empty 120 s after the last webhook", flush=True)
        else:
            # What the gateway kept up with: answers taken in and counted, start to last.
            print(
                f"the inbox was empty {drained:.1f} s after the last webhook: "
                f"{posts / (elapsed + drained):,.0f} answers/s counted",
                flush=True,
            )
        print(
            "CPU per webhook " + " ".join(f"{part} {us:,.0f}" for part, us in cpu.items()) + " µs "
            "(web: the web workers; worker: the drainer and RQ)",
            flush=True,
        )
        tally, timings = time_results(running.database_url, poll_id, 21)
        exact = tally == load.expected
        print(
            f"results query at {sum(tally):,} votes: median {statistics.median(timings) * 1000:.1f} ms "
            f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}, 21 runs)"
        )
        print(f"tally {tally} vs sent {load.expected}: {'exact' if exact else 'WRONG'}  ({running.description})")
        return 0 if exact and load.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
