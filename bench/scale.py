"""A network of 1,000,000 members on PostgreSQL: what organisers wait for.

Fills an empty PostgreSQL database (``COPY``, a minute or two) with N members
(Latin and Lao names, provinces, two topics each, a tenth unregistered, one in
fifty opted out), 200,000 finished quiz attempts of five answers, and a poll with
200,000 votes; then times, in the app, with an organiser signed in:

- the members page: first page, last page, a Latin name, a Lao name, province and
  topic (target: each ≤ 300 ms);
- the composer's audience count, for everyone and for a topic (≤ 1 s);
- the quiz report and the poll's results (≤ 1 s);
- erasing a member, the whole of ``erase_member`` (≤ 1 s);
- preparing a broadcast to everyone (``bulk.dispatch``: the outbox rows written
  and the batch jobs queued) in a process of its own, with its peak memory beside
  its memory before (≤ 60 s; memory flat, so not growing with the members).

    python bench/scale.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench_scale \\
        --redis-url redis://127.0.0.1:6379/12

The database is emptied first: give it one of its own.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import lao_mobile, signed_in  # noqa: E402
from members_page import FAMILY, GIVEN, PROVINCES  # noqa: E402

TOPICS = ["nutrition", "wash", "digital_safety", "gender", "climate", "health"]
PAGES = {
    "members: first page": "/members",
    "members: middle page": "/members?page=10000",
    "members: last page": "/members?page=20000",
    "members: name (Latin)": "/members?q=phomma",
    "members: name (Lao)": "/members?q=ພົມມະ",
    "members: a rare name": "/members?q=keomany+vongsa",
    "members: province + topic": "/members?province=bokeo&topic=nutrition",
    "audience count: everyone": "/broadcasts/audience",
    "audience count: a topic": "/broadcasts/audience?topic=climate",
    "quiz report": "/quiz",
    "poll results": "/polls/P1",
}
TARGET_MS = {"members": 300, "audience": 1000, "quiz": 1000, "poll": 1000, "a": 0}


def copy(raw, table: str, columns: list[str], rows) -> None:
    """``COPY table FROM STDIN`` with psycopg 3's writer."""
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as writer:
            for row in rows:
                writer.write_row(row)


def fill(database, count: int, questions: list[str]) -> None:
    rng = random.Random(29)
    now = datetime.now(timezone.utc)
    raw = database.engine.raw_connection()
    try:
        driver = raw.driver_connection
        copy(
            driver,
            "members",
            ["id", "phone", "name", "organisation", "province", "language", "source", "reminder_channel",
             "consent_at", "opted_out_at", "created_at", "updated_at"],
            (
                (n + 1, lao_mobile(n * 7919 % 18_000_000), f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                 f"Group {n % 500}", rng.choice(PROVINCES), rng.choice(["lo", "lo", "en"]), "import", "sms",
                 now if n % 10 else None, now if n % 50 == 0 else None, now, now)
                for n in range(count)
            ),
        )  # fmt: skip
        copy(
            driver,
            "member_topics",
            ["member_id", "topic"],
            ((n + 1, topic) for n in range(count) for topic in rng.sample(TOPICS, 2)),
        )
        attempts = min(200_000, count)
        copy(
            driver,
            "quiz_attempts",
            ["id", "ref", "member_id", "quiz", "channel", "started_at", "finished_at", "score", "total"],
            (
                (a + 1, f"bench-{a}", rng.randrange(count) + 1, "digital_safety", "ussd", now, now,
                 rng.randrange(len(questions) + 1), len(questions))
                for a in range(attempts)
            ),
        )  # fmt: skip
        copy(
            driver,
            "quiz_answers",
            ["attempt_id", "question", "choice", "correct", "answered_at"],
            ((a + 1, q, "1", rng.random() < 0.6, now) for a in range(attempts) for q in questions),
        )
        with driver.cursor() as cursor:
            cursor.execute(
                "INSERT INTO polls (id, code, kind, questions, options, audience, confirm, opens_at, closes_at, "
                "created_at) VALUES (1, 'P1', 'poll', %s, %s, %s, false, %s, %s, %s)",
                (
                    '{"lo": "ທ່ານມາໄດ້ບໍ?", "en": "Can you come?"}',
                    '[{"lo": "ໄດ້", "en": "Yes"}, {"lo": "ບໍ່ໄດ້", "en": "No"}, {"lo": "ອາດຈະ", "en": "Maybe"}]',
                    "{}",
                    now - timedelta(days=1),
                    now + timedelta(days=1),
                    now,
                ),
            )
        votes = min(200_000, count)
        copy(
            driver,
            "poll_votes",
            ["poll_id", "member_id", "option", "province", "language", "channel", "first_voted_at", "voted_at"],
            (
                (1, v * (count // votes) + 1, rng.randrange(1, 4), rng.choice(PROVINCES), "lo", "sms", now, now)
                for v in range(votes)
            ),
        )
        with driver.cursor() as cursor:
            for table in ("members", "quiz_attempts", "polls"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.execute("ANALYZE")
        driver.commit()
    finally:
        raw.close()


def timed(client, url: str, repeat: int) -> tuple[list[float], str]:
    timings, page = [], None
    for _ in range(repeat + 2):
        begin = time.perf_counter()
        page = client.get(url)
        timings.append((time.perf_counter() - begin) * 1000)
        assert page.status_code == 200, (url, page.status_code, page.get_data(as_text=True)[:300])
    body = page.get_data(as_text=True)
    found = re.search(r"([\d,]+\+?) found", body) or re.search(r'"total":\s*(\d+)', body)
    return sorted(timings[2:]), found[1] if found else ""


def dispatch_in_a_process(database_url: str, redis_url: str, folder: Path) -> str:
    """Prepare a broadcast to everyone in a child process, sampling its memory."""
    script = f"""
import sys, threading, time
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
import psutil
from gateway.config import Config
from gateway.services import Services
from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
services = Services.build(Config.from_env({{}}, instance_path=Path({str(folder / "dispatch")!r}),
    database_url={database_url!r}, redis_url={redis_url!r}, quiet_hours="off", secret_key="bench"))
services.library.prepare()
with services.db.session() as db:
    broadcast_id = broadcasts.create(db, {{"lo": "ສະບາຍດີ ທຸກຄົນ", "en": "Hello all"}}, Audience()).id
process, peak, done = psutil.Process(), [0], threading.Event()
before = process.memory_info().rss
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
started = time.perf_counter()
added, batches, _ = bulk.dispatch(services, broadcast_id)
took = time.perf_counter() - started
done.set()
print(f"{{added}} {{batches}} {{took:.1f}} {{before / 2**20:.0f}} {{peak[0] / 2**20:.0f}}")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"preparing the broadcast failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="requests per page")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--skip-dispatch", action="store_true")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url: this measures PostgreSQL")

    import redis
    from sqlalchemy import text

    from gateway import create_app
    from gateway.channels.erasure import erase_member
    from gateway.config import Config
    from gateway.runtime import runtime_of
    from gateway.store.database import Database
    from gateway.store.models import Base

    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    database = Database(args.database_url)
    with database.engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.upgrade()
    redis.Redis.from_url(args.redis_url).flushdb()
    app = create_app(
        Config.from_env(
            {},
            instance_path=folder / "instance",
            database_url=args.database_url,
            redis_url=args.redis_url,
            secret_key="bench-secret",
            quiet_hours="off",
        )
    )
    questions = [node.question for node in runtime_of(app).services.book.quiz_questions("digital_safety")]
    started = time.perf_counter()
    fill(database, args.members, questions)
    print(f"{args.members:,} members, 200,000 quiz attempts and 200,000 votes written in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    database.dispose()
    client = signed_in(app, "admin")
    from gateway.messaging import broadcasts
    from gateway.messaging.audience import Audience

    with runtime_of(app).db.session() as db:  # two drafts to everyone: their preview pages
        shared = broadcasts.create(db, {"lo": "ສະບາຍດີ ທຸກຄົນ", "en": "Hello all"}, Audience()).id
        named = broadcasts.create(db, {"lo": "ສະບາຍດີ {name}", "en": "Hello {name}"}, Audience()).id
    pages = dict(PAGES)
    pages["a draft's preview: one text"] = f"/broadcasts/{shared}"
    pages["a draft's preview: {name} in it"] = f"/broadcasts/{named}"
    print(f"{'what':<36} {'found':>10} {'median ms':>10} {'max ms':>8} {'target':>8}")
    for name, url in pages.items():
        timings, found = timed(client, url, args.repeat if "preview" not in name else 2)
        target = TARGET_MS[name.split(":")[0].split()[0]] or "-"
        print(f"{name:<36} {found:>10} {statistics.median(timings):>10.0f} {timings[-1]:>8.0f} {target:>8}")
    # The same searches, in the same run, without migration 0016's trigram indexes.
    with runtime_of(app).db.engine.begin() as connection:
        for column in ("name", "organisation"):
            connection.execute(text(f"DROP INDEX ix_members_{column}_trigrams"))
    for name, url in PAGES.items():
        if "name" in name:
            timings, found = timed(client, url, args.repeat)
            print(f"{name + ', no trigrams':<36} {found:>10} {statistics.median(timings):>10.0f} {timings[-1]:>8.0f}")
    with runtime_of(app).db.engine.begin() as connection:
        for column in ("name", "organisation"):
            connection.execute(
                text(f"CREATE INDEX ix_members_{column}_trigrams ON members USING gin (lower({column}) gin_trgm_ops)")
            )
    services = runtime_of(app).services
    erasures = []
    for member_id in random.Random(1).sample(range(1, args.members + 1), args.repeat):
        begin = time.perf_counter()
        erase_member(services, runtime_of(app).inbox, runtime_of(app).spool, member_id, "bench")
        erasures.append((time.perf_counter() - begin) * 1000)
    erasures.sort()
    print(f"{'erasing a member':<36} {'':>10} {statistics.median(erasures):>10.0f} {erasures[-1]:>8.0f} {1000:>8}")
    if not args.skip_dispatch:
        added, batches, took, before, peak = dispatch_in_a_process(args.database_url, args.redis_url, folder).split()
        print(
            f"preparing a broadcast to everyone: {int(added):,} rows, {int(batches):,} jobs in {took} s "
            f"(target ≤ 60 s); the process's memory {before} MB before, {peak} MB at its peak"
        )


if __name__ == "__main__":
    main()
