"""Android phones as the SMS route: a paced broadcast, and signed inbound webhooks.

1. **Broadcast over a pool.** 10,000 members, three fake phones (each its own
   local server, speaking the app's API through the official client), each allowed
   20 texts a "minute". Time is scaled: a minute is one second here (the phones'
   window and ours, ``ANDROID_RATE_WINDOW=1``), so the pool may send 60 a second.
   Real ``outreach worker --burst`` processes send it. Reports the share of the
   pool's allowed rate reached, texts sent over a phone's rate (must be 0),
   duplicates (must be 0), and the workers' memory early and late in the send.
2. **Inbound webhooks.** ``sms:received`` events, signed as the app signs them,
   posted to a production-style gateway (gunicorn, real Redis, migrated database);
   10% are the phone retrying an event. Reports webhooks a second and checks that
   exactly one inbound row was kept per distinct event.

    python bench/android.py                        # both parts, SQLite + embedded Redis
    python bench/android.py --part inbound --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from broadcast import add_members
from harness import (
    ROOT,
    Load,
    add_server_arguments,
    count_inbound,
    gateway,
    lao_mobile,
    percentile,
    post,
    wait_for_inbox,
    worker,
)

from tests.fake_android import FakeAndroidPhone
from gateway.runtime import runtime_of

KEY = "bench-signing-key"
TEXTS = ["HELP", "JOIN", "2", "Noy", "ຕໍ່ໄປ", "hello", "QUIZ", "STOP", "START"]


def broadcast_over_phones(members: int, phones: int, rate: int, workers: int) -> bool:
    fakes = [FakeAndroidPhone(signing_key=KEY, planned_rate=rate, window_s=1.0) for _ in range(phones)]
    instance = Path(tempfile.mkdtemp(prefix="bench-android-"))
    from gateway import broker

    os.environ.update(
        DATABASE_URL=f"sqlite:///{instance / 'bench.db'}",
        REDIS_URL=broker.embedded_redis_url(instance),
        INSTANCE_PATH=str(instance),
        SECRET_KEY="bench",
        SMS_PROVIDER="android",
        ANDROID_API_URL=fakes[0].url,
        ANDROID_PHONES=",".join(f.url for f in fakes),
        ANDROID_USERNAME="sms",
        ANDROID_PASSWORD="secret",
        ANDROID_SIGNING_KEY=KEY,
        ANDROID_RATE=str(rate),
        ANDROID_RATE_WINDOW="1",
        QUIET_HOURS="off",
        LOG_LEVEL="WARNING",
    )
    from gateway import create_app
    from gateway.messaging import broadcasts, bulk
    from gateway.messaging.audience import Audience

    from gateway.config import load_config
    from gateway.store.database import Database

    Database(load_config().sqlalchemy_url).upgrade()  # before the app, which reads the deployment's secrets
    app = create_app()
    add_members(runtime_of(app).db, members, 0, "nutrition")
    with runtime_of(app).db.session() as db:
        broadcast_id = broadcasts.create(
            db,
            {"lo": "ເຕືອນ: ກິດຈະກຳໂພຊະນາການ ວັນສຸກ ເວລາ 14:00 ໂມງ", "en": "Reminder: nutrition hangout Friday 14:00"},
            Audience(topics=("nutrition",)),
        ).id
    started = time.perf_counter()
    added, batches, _ = bulk.dispatch(runtime_of(app).services, broadcast_id)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "worker", "--burst"],
            env=dict(os.environ),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    samples: list[tuple[int, float]] = []  # (texts sent so far, workers' RSS in MB)
    while any(p.poll() is None for p in procs):
        rss = 0
        for p in procs:
            try:
                tree = psutil.Process(p.pid)
                rss += tree.memory_info().rss + sum(c.memory_info().rss for c in tree.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        samples.append((sum(len(f.sent) for f in fakes), rss / 2**20))
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    sent = [s["id"] for f in fakes for s in f.sent]
    allowed = phones * rate  # texts a second, with a minute scaled to a second
    share = len(sent) / elapsed / allowed
    over = sum(f.over_plan for f in fakes)
    duplicates = len(sent) - len(set(sent))
    early = [mb for done, mb in samples if 0.1 * added <= done <= 0.3 * added]
    late = [mb for done, mb in samples if 0.7 * added <= done <= 0.9 * added]
    with runtime_of(app).db.session() as db:
        counts = broadcasts.progress(db, broadcast_id)
    print(
        f"broadcast: {added:,} texts over {phones} phones at {rate}/min each (a minute scaled to 1 s): "
        f"{elapsed:.1f}s = {len(sent) / elapsed:.1f}/s of {allowed}/s allowed = {share:.1%}; "
        f"{batches} batch jobs, {workers} workers; per phone {[len(f.sent) for f in fakes]}; "
        f"sent over a phone's rate: {over}; duplicates: {duplicates}; "
        f"workers' RSS {statistics.median(early or [0]):.0f} MB early, {statistics.median(late or [0]):.0f} MB late; "
        f"rows {counts}",
        flush=True,
    )
    for fake in fakes:
        fake.stop()
    broker.stop_embedded()
    return share >= 0.95 and over == 0 and duplicates == 0 and counts["sent"] == added


class SignedTexts(Load):
    """Phones posting ``sms:received`` events; a share are retries of an earlier event."""

    def __init__(self, port: int, concurrency: int, seconds: float, retries: float):
        super().__init__(port, concurrency, seconds)
        self.retries, self.events, self.distinct, self.counter = retries, [], set(), 0

    async def member(self, deadline: float) -> None:
        phone = lao_mobile(random.randrange(18 * 10**6))
        while time.perf_counter() < deadline:
            if self.events and random.random() < self.retries:
                event_id, text = random.choice(self.events)  # the phone retrying
            else:
                self.counter += 1
                event_id, text = f"evt-{self.counter}-{random.random()}", random.choice(TEXTS)
                self.events.append((event_id, text))
            self.distinct.add(event_id)
            body = json.dumps(
                {
                    "deviceId": "bench",
                    "event": "sms:received",
                    "id": event_id,
                    "webhookId": "w",
                    "payload": {
                        "messageId": "m",
                        "message": text,
                        "phoneNumber": phone,
                        "simNumber": 1,
                        "receivedAt": "2026-11-30T10:00:00+07:00",
                    },
                },
                ensure_ascii=False,
            ).encode()
            stamp = str(int(time.time()))
            signature = hmac.new(KEY.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
            status, _, elapsed = await post(
                self.port, "/sms/android", body, "application/json", {"X-Timestamp": stamp, "X-Signature": signature}
            )
            self.latencies.append(elapsed)
            if status != 200:
                self.errors += 1


def inbound_webhooks(args) -> bool:
    fake = FakeAndroidPhone(signing_key=KEY)  # only so the provider has a URL; nothing is sent here
    with gateway(
        args,
        SMS_PROVIDER="android",
        ANDROID_API_URL=fake.url,
        ANDROID_SIGNING_KEY=KEY,
        ANDROID_USERNAME="sms",
        ANDROID_PASSWORD="secret",
    ) as running:
        stored_before = count_inbound(running.database_url)
        with worker(running.env):  # its drainer processes the texts the webhooks stored
            results, distinct = [], set()
            for run in range(args.runs):
                load = SignedTexts(running.port, args.concurrency, args.seconds, 0.1)
                elapsed = asyncio.run(load.run())
                distinct |= load.distinct
                rate = len(load.latencies) / elapsed
                results.append((rate, percentile(load.latencies, 0.99) * 1000, load.errors))
                print(
                    f"inbound run {run + 1}: {len(load.latencies)} signed webhooks in {elapsed:.1f}s = "
                    f"{rate:,.0f}/s; p99 {results[-1][1]:.1f} ms; errors {load.errors}",
                    flush=True,
                )
            wait_for_inbox(running.database_url)
        stored = count_inbound(running.database_url) - stored_before
        description = running.description
    fake.stop()
    median = sorted(results)[len(results) // 2]
    exact = stored == len(distinct)
    print(
        f"inbound: median of {args.runs}: {median[0]:,.0f} signed webhooks/s, p99 {median[1]:.1f} ms; "
        f"dedupe {'exact' if exact else f'WRONG: {stored} kept for {len(distinct)} events'}  ({description})"
    )
    return exact and median[2] == 0 and median[0] >= 500


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--part", choices=["both", "broadcast", "inbound"], default="both")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--phones", type=int, default=3)
    parser.add_argument("--rate", type=int, default=20, help="texts a minute per phone")
    parser.add_argument("--send-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ok = True
    if args.part in ("both", "inbound"):
        ok = inbound_webhooks(args) and ok
    if args.part in ("both", "broadcast"):
        ok = broadcast_over_phones(args.members, args.phones, args.rate, args.send_workers) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
