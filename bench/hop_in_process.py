"""The gateway's own cost of a USSD hop, in one process: no HTTP server, no load
generator, so a change to the hop's code shows above the machine's noise.

Drives the real app through Flask's test client on SQLite and the embedded Redis:
a registered member dials (the main menu) and opens the quiz (its first question),
``--hops`` times each. Prints the median of ``--runs`` runs, in µs per hop. Run it
from two checkouts alternately to compare them in the same run:

    git worktree add /tmp/old <commit>
    for i in 1 2 3; do
        (cd /tmp/old && python /path/to/bench/hop_in_process.py)
        python bench/hop_in_process.py
    done
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from gateway.runtime import runtime_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hops", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path.cwd()))  # the checkout this is run from

    from gateway import create_app
    from gateway.broker import stop_embedded
    from gateway.config import load_config
    from gateway.store.database import Database
    from gateway.logs import setup_logging
    from gateway.store.models import Member, utcnow

    with tempfile.TemporaryDirectory(prefix="hop-bench-") as folder:
        config = load_config(
            {
                "instance_path": Path(folder),
                "database_url": "",
                "redis_url": "",
                "sms_provider": "console",
                "quiet_hours": "off",
                "ussd_rate_limit": 10**9,
            }
        )
        Database(config.sqlalchemy_url).upgrade()  # before the app, which reads the deployment's secrets
        app = create_app(config)
        setup_logging(level="WARNING")
        with runtime_of(app).db.session() as db:
            db.add(Member(phone="+8562055510001", name="Noy", language="lo", province="bokeo", consent_at=utcnow()))
        client = app.test_client()
        token = app.config["GATEWAY"].at_webhook_token
        url = f"/ussd/africastalking?token={token}"
        results = []
        for run in range(args.runs + 1):  # the first run warms up, and is not counted
            started = time.perf_counter()
            for n in range(args.hops // 2):
                form = {
                    "sessionId": f"b{run}-{n}",
                    "serviceCode": "*384#",
                    "phoneNumber": "+8562055510001",
                    "networkCode": "45701",
                    "text": "",
                }
                client.post(url, data=form)
                client.post(url, data={**form, "text": "2"})
            if run:
                results.append((time.perf_counter() - started) / (args.hops // 2 * 2) * 1e6)
        runtime_of(app).redis.close()
        stop_embedded()
    print(
        f"{Path.cwd().name}: median {statistics.median(results):.0f} µs per hop "
        f"(runs: {', '.join(f'{r:.0f}' for r in results)})"
    )


if __name__ == "__main__":
    main()
