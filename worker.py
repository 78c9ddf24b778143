"""RQ worker with the scheduler: ``python worker.py`` (same as ``outreach worker``)."""

from gateway.messaging.worker import run

if __name__ == "__main__":
    run()
