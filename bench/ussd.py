"""USSD throughput benchmark: concurrent members registering, production-style.

Starts the gateway the way production runs it (gunicorn with several sync workers,
a real Redis server, a migrated database), then drives concurrent sessions through
the whole registration flow (7 hops each since the Lao-first menus; 10 before) from an asyncio load generator on the
same machine. Prints hops/s with p50/p90/p99 latency. Not a test: run it by hand.

    python bench/ussd.py                       # SQLite + embedded Redis, 20 s
    python bench/ussd.py --workers 4 --concurrency 24 --seconds 30
    python bench/ussd.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \\
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

# After the first DIAL: name, organisation, region, province, two topics, consent.
REGISTRATION = ["Noy", "0", "1", "1", "1 3", "1"]


class Registrations(Load):
    """Members registering: 7 hops each, then again with a new number."""

    def __init__(self, port: int, concurrency: int, seconds: float):
        super().__init__(port, concurrency, seconds)
        self.bad = 0
        self.phones = iter(range(random.randrange(10**7), 10**9))
        self.sessions = 0

    async def hop(self, session: str, phone: str, text: str) -> str:
        status, reply, elapsed = await post_form(self.port, "/ussd/africastalking", {
            "sessionId": session, "serviceCode": "*384#", "phoneNumber": phone,
            "networkCode": "45701", "text": text})
        self.latencies.append(elapsed)
        if status != 200:
            self.errors += 1
        return reply

    async def member(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            self.sessions += 1
            session, phone = f"bench-{self.sessions}-{random.random()}", lao_mobile(next(self.phones) % (18 * 10**6))
            text = ""
            reply = await self.hop(session, phone, text)
            for typed in REGISTRATION:
                if time.perf_counter() >= deadline:
                    return
                text = typed if not text else f"{text}*{typed}"
                reply = await self.hop(session, phone, text)
            if not reply.startswith("END "):  # registered: the session ends
                self.bad += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--concurrency", type=int, default=16, help="members dialling at once")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3, help="report the median run")
    args = parser.parse_args()

    with gateway(args) as (port, description, _, _, _):
        asyncio.run(Registrations(port, args.concurrency, 3).run())  # warm-up
        results = []
        for run in range(args.runs):
            load = Registrations(port, args.concurrency, args.seconds)
            cpu_before = time.process_time()
            elapsed = asyncio.run(load.run())
            generator_cpu = (time.process_time() - cpu_before) / elapsed
            hops = len(load.latencies)
            results.append((hops / elapsed, statistics.median(load.latencies) * 1000,
                            percentile(load.latencies, 0.90) * 1000,
                            percentile(load.latencies, 0.99) * 1000, load.errors, load.bad))
            print(f"run {run + 1}: {hops} hops in {elapsed:.1f}s = {hops / elapsed:,.0f} hops/s; "
                  f"p50 {results[-1][1]:.1f} ms, p90 {results[-1][2]:.1f} ms, "
                  f"p99 {results[-1][3]:.1f} ms; errors {load.errors}, unfinished {load.bad}; "
                  f"load generator used {generator_cpu:.0%} of a core",
                  flush=True)
        median = sorted(results)[len(results) // 2]
        print(f"\nmedian of {args.runs}: {median[0]:,.0f} hops/s, p50 {median[1]:.1f} ms, "
              f"p99 {median[3]:.1f} ms  (concurrency={args.concurrency}, {description})")
        return 0 if median[4] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
