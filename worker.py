"""RQ worker with the scheduler and the inbox drainer: ``python worker.py`` (same as ``outreach worker``)."""

from gateway.cli.up import drain_inbox
from gateway.messaging.worker import run

if __name__ == "__main__":
    run(companion=drain_inbox)
