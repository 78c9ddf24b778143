"""USSD throughput benchmark, production-style, against the framework's own cost.

Starts the gateway the way production runs it (gunicorn with several sync workers,
a real Redis server, a migrated database), and beside it the baseline: a stateless
Flask app answering a fixed CON screen (``bench/stateless_app.py``) under the same
gunicorn settings. Then, from an asyncio load generator on the same machine, each
run measures in turn (interleaved, so both see the same machine):
- ``registration``: members registering (7 hops each);
- ``walk``: members pressing random shown options through the menus;
- ``baseline``: the same hop pattern against the stateless app.
Prints hops/s and p50/p90/p99 per load, the ratio to the baseline, and the CPU each
hop cost each part (web workers, Redis server, PostgreSQL, the load generator). Each
hop is a new connection, as telcos send them. Not a test: run it by hand.

    python bench/ussd.py                       # SQLite + embedded Redis, 3 x 20 s each
    python bench/ussd.py --workers 4 --concurrency 24 --seconds 30
    python bench/ussd.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench \\
                         --redis-url redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import time

from harness import CpuMeter, Load, add_server_arguments, gateway, lao_mobile, percentile, post_form

# After the first DIAL: name, organisation, region, province, two topics, consent.
REGISTRATION = ["Noy", "0", "1", "1", "1 3", "1"]
OPTION = re.compile(r"^(\d{1,2})[.)]? ", re.MULTILINE)


class Registrations(Load):
    """Members registering: 7 hops each, then again with a new number."""

    def __init__(self, port: int, concurrency: int, seconds: float):
        super().__init__(port, concurrency, seconds)
        self.bad = 0
        self.phones = iter(range(random.randrange(10**7), 10**9))
        self.sessions = 0

    async def hop(self, session: str, phone: str, text: str) -> str:
        status, reply, elapsed = await post_form(
            self.port,
            "/ussd/africastalking",
            {"sessionId": session, "serviceCode": "*384#", "phoneNumber": phone, "networkCode": "45701", "text": text},
        )
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


class Walk(Registrations):
    """Members wandering: after each screen, a random option it shows (or a name
    where it asks for text); a new dial after END or twelve hops."""

    async def member(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            self.sessions += 1
            session, phone = f"walk-{self.sessions}-{random.random()}", lao_mobile(next(self.phones) % (18 * 10**6))
            text, reply = "", await self.hop(session, "+" + phone.lstrip("+"), "")
            for _ in range(12):
                if time.perf_counter() >= deadline or not reply.startswith("CON"):
                    break
                shown = OPTION.findall(reply)
                typed = random.choice(shown) if shown else random.choice(["Noy", "ນ້ອຍ", "1"])
                text = typed if not text else f"{text}*{typed}"
                reply = await self.hop(session, phone, text)


class Baseline(Registrations):
    """The registration's hop pattern, against the stateless app (always CON)."""

    async def member(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            self.sessions += 1
            session, phone = f"base-{self.sessions}", lao_mobile(next(self.phones) % (18 * 10**6))
            text = ""
            await self.hop(session, phone, text)
            for typed in REGISTRATION:
                if time.perf_counter() >= deadline:
                    return
                text = typed if not text else f"{text}*{typed}"
                await self.hop(session, phone, text)


def measure(kind, running, args) -> tuple[float, float, float, float, int, dict]:
    load = kind(running.port, args.concurrency, args.seconds)
    meter = CpuMeter(running.pid)
    elapsed = asyncio.run(load.run())
    hops = len(load.latencies)
    return (
        hops / elapsed,
        statistics.median(load.latencies) * 1000,
        percentile(load.latencies, 0.90) * 1000,
        percentile(load.latencies, 0.99) * 1000,
        load.errors,
        meter.per_request_us(hops),
    )


def cpu_line(cpu: dict) -> str:
    return "  CPU/hop " + " ".join(f"{part} {us:,.0f}" for part, us in cpu.items()) + " µs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--concurrency", type=int, default=16, help="members dialling at once")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3, help="report the median run")
    parser.add_argument("--preload", action="store_true", help="gunicorn --preload (workers share the app's pages)")
    args = parser.parse_args()

    loads = {"registration": Registrations, "walk": Walk}
    with gateway(args) as running, gateway(args, app="stateless_app:create_app()") as baseline:
        for kind, port in ((Registrations, running.port), (Walk, running.port), (Baseline, baseline.port)):
            asyncio.run(kind(port, args.concurrency, 3).run())  # warm-up
        results: dict[str, list] = {name: [] for name in [*loads, "baseline"]}
        for run in range(args.runs):
            for name, kind, server in [
                ("registration", Registrations, running),
                ("baseline", Baseline, baseline),
                ("walk", Walk, running),
            ]:
                result = measure(kind, server, args)
                results[name].append(result)
                print(
                    f"run {run + 1} {name:<12} {result[0]:>7,.0f} hops/s  p50 {result[1]:5.1f} ms  "
                    f"p90 {result[2]:5.1f} ms  p99 {result[3]:5.1f} ms  errors {result[4]}" + cpu_line(result[5]),
                    flush=True,
                )
        print(
            f"\nmedians of {args.runs} (concurrency={args.concurrency}, {running.description}"
            f"{', preload' if args.preload else ''}):"
        )
        base = statistics.median(r[0] for r in results["baseline"])
        failed = 0
        for name, rows in results.items():
            rate = statistics.median(r[0] for r in rows)
            p99 = statistics.median(r[3] for r in rows)
            failed += sum(r[4] for r in rows)
            ratio = "" if name == "baseline" else f"  = {rate / base:.2f}x the baseline"
            cpu = {part: statistics.median(r[5].get(part, 0) for r in rows) for part in rows[0][5]}
            print(f"  {name:<12} {rate:>7,.0f} hops/s  p99 {p99:5.1f} ms{ratio}" + cpu_line(cpu))
        return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
