"""The idle footprint of ``outreach up``: memory of every process it runs.

Starts ``outreach up`` on embedded defaults (SQLite, the bundled Redis, the console
provider) in a temporary instance, waits until ``/healthz`` answers and the stack
has settled, then adds up each process's memory: RSS (what ``ps`` shows; pages
shared between forked workers are counted once per process) and PSS (shared pages
divided among their sharers: the honest total). Target (#16): ≤ 300 MB.

    python bench/footprint.py
    python bench/footprint.py --settle 20
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from harness import ROOT, free_port, wait_for_health


def _files(process):
    try:
        return process.open_files() + [type("cwd", (), {"path": process.cwd()})()]
    except psutil.Error:
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=10, help="seconds to wait after /healthz answers")
    parser.add_argument("--workers", type=int, default=None, help="web workers (default: outreach up's)")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(INSTANCE_PATH=str(instance), LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "gateway.cli.main", "up", "--port", str(port)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    stack = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        if not wait_for_health(port):
            print("outreach up did not answer /healthz")
            return 1
        time.sleep(args.settle)
        root = psutil.Process(stack.pid)
        processes = [root] + root.children(recursive=True)
        # The embedded Redis server daemonizes: find it by its folder in the instance.
        processes += [
            p
            for p in psutil.process_iter(["cmdline"])
            if "redis-server" in " ".join(p.info["cmdline"] or [])
            and p not in processes
            and any(str(instance) in open_file.path for open_file in _files(p))
        ]
        total_rss = total_pss = 0
        print(f"{'pid':>7} {'rss MB':>8} {'pss MB':>8}  command")
        for process in processes:
            try:
                memory = process.memory_full_info()
                line = " ".join(process.cmdline())[-70:]
            except psutil.Error:
                continue
            total_rss += memory.rss
            total_pss += memory.pss
            print(f"{process.pid:>7} {memory.rss / 2**20:>8.1f} {memory.pss / 2**20:>8.1f}  {line}")
        print(
            f"{len(processes)} processes: RSS {total_rss / 2**20:.0f} MB, PSS {total_pss / 2**20:.0f} MB "
            f"(target ≤ 300 MB)"
        )
        return 0
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
