"""Broadcast throughput: 100,000 generated members through a local fake Africa's Talking.

Runs the real path: ``bulk.dispatch`` writes the outbox rows and queues batch
jobs; real ``outreach worker --burst`` processes claim and send them through the
official SDK to a local fake that answers like Africa's Talking. Reports the wall
time until every row is settled, messages per second, and each worker's peak RSS
(parent plus its forked job), for one shared text and for personalised texts.

    python bench/broadcast.py                         # SQLite + embedded Redis
    python bench/broadcast.py --members 100000 --personalised 20000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from harness import FakeAT, lao_mobile, scratch_database, start_fake_at
from gateway.runtime import runtime_of

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def add_members(database, count: int, start: int, topic: str) -> None:
    from sqlalchemy import insert, select

    from gateway.store.models import Member, MemberTopic, utcnow

    now = utcnow()
    for offset in range(0, count, 5000):
        size = min(5000, count - offset)
        rows = [
            {
                "phone": lao_mobile(start + offset + n),
                "name": f"Member {start + offset + n}",
                "language": "lo" if n % 4 else "en",
                "province": "bokeo",
                "source": "import",
                "consent_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(size)
        ]
        with database.session() as db:
            db.execute(insert(Member), rows)
            ids = db.scalars(select(Member.id).where(Member.phone.in_([r["phone"] for r in rows]))).all()
            db.execute(insert(MemberTopic), [{"member_id": i, "topic": topic} for i in ids])


def run_broadcast(app, texts: dict, spec: str, workers: int, env: dict) -> dict:
    from gateway.content.vocabulary import Vocabulary
    from gateway.messaging import broadcasts, bulk
    from gateway.messaging.audience import Audience

    vocabulary = Vocabulary.build(runtime_of(app).services.book, runtime_of(app).services.catalog)
    with runtime_of(app).db.session() as db:
        broadcast_id = broadcasts.create(db, texts, Audience.parse(spec, vocabulary)).id
    started = time.perf_counter()
    added, batches, _ = bulk.dispatch(runtime_of(app).services, broadcast_id)
    dispatched = time.perf_counter() - started
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "worker", "--burst"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    peak = [0] * workers
    while any(p.poll() is None for p in procs):
        for n, p in enumerate(procs):
            try:
                tree = psutil.Process(p.pid)
                rss = tree.memory_info().rss + sum(c.memory_info().rss for c in tree.children(recursive=True))
                peak[n] = max(peak[n], rss)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    with runtime_of(app).db.session() as db:
        counts = broadcasts.progress(db, broadcast_id)
    return {
        "messages": added,
        "batches": batches,
        "dispatch_s": dispatched,
        "total_s": elapsed,
        "rate": added / elapsed,
        "peak_rss_mb": max(peak) / 2**20,
        "counts": counts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument(
        "--personalised", type=int, default=20_000, help="members who get a personalised text (one request each)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--database-url",
        default="",
        help="default: SQLite in a temp folder; on PostgreSQL a scratch database on that server, dropped afterwards",
    )
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()

    from gateway import broker

    instance = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    try:
        with scratch_database(args.database_url or f"sqlite:///{instance / 'bench.db'}") as database_url:
            return run(args, instance, database_url)
    finally:
        broker.stop_embedded()  # the bundled Redis outlived every run before


def run(args, instance: Path, database_url: str) -> int:
    from gateway import broker

    server, provider_settings = start_fake_at()
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=args.redis_url or broker.embedded_redis_url(instance),
        INSTANCE_PATH=str(instance),
        SECRET_KEY="bench",
        LOG_LEVEL="WARNING",
        **provider_settings,
    )
    from gateway import create_app

    from gateway.config import load_config
    from gateway.store.database import Database

    Database(load_config().sqlalchemy_url).upgrade()  # before the app, which reads the deployment's secrets
    app = create_app()
    add_members(runtime_of(app).db, args.members, 0, "nutrition")
    add_members(runtime_of(app).db, args.personalised, 10**7, "wash")
    env = dict(os.environ)
    print(
        f"{args.members:,} + {args.personalised:,} members; {args.workers} worker processes; "
        f"db={os.environ['DATABASE_URL'].split(':')[0]}; cpus={os.cpu_count()}",
        flush=True,
    )
    ok = True
    for label, texts, spec in [
        (
            "shared text",
            {"lo": "ເຕືອນ: ກິດຈະກຳໂພຊະນາການ ວັນສຸກ ເວລາ 14:00", "en": "Reminder: nutrition hangout Friday 14:00"},
            "topic=nutrition",
        ),
        (
            "personalised",
            {"lo": "ສະບາຍດີ {name}, ກິດຈະກຳວັນສຸກ ເວລາ 14:00", "en": "Hi {name}, hangout Friday 14:00"},
            "topic=wash",
        ),
    ]:
        result = run_broadcast(app, texts, spec, args.workers, env)
        settled = result["counts"]["sent"] == result["messages"]
        ok = ok and settled
        print(
            f"{label}: {result['messages']:,} messages in {result['total_s']:.1f}s "
            f"({result['rate']:,.0f} msg/s; dispatch {result['dispatch_s']:.1f}s, "
            f"{result['batches']} batch jobs); worker peak RSS {result['peak_rss_mb']:.0f} MB; "
            f"{'all sent' if settled else result['counts']}",
            flush=True,
        )
    duplicates = sum(1 for c in FakeAT.accepted.values() if c > 1)
    print(
        f"provider saw {sum(FakeAT.accepted.values()):,} messages to {len(FakeAT.accepted):,} "
        f"numbers; duplicates: {duplicates}"
    )
    server.shutdown()
    return 0 if ok and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
