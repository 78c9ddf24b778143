"""Jobs are queued by path, and paths that moved keep working: a job queued
before an upgrade runs after it (``broker.MOVED_JOBS``)."""

from __future__ import annotations

from gateway import broker
from gateway.messaging import bulk
from gateway.store.models import OutboundMessage

from .fakes import drain
from .helpers import add_member, at_text


def test_every_moved_job_path_names_a_job_that_exists(app):
    for old, new in broker.MOVED_JOBS.items():
        job = broker.Job.create(old, connection=app.extensions["redis"])
        assert f"{job.func.__module__}.{job.func.__name__}" == new


def test_a_reply_queued_under_its_old_path_is_still_sent(at_app, fake_at):
    at_text(at_app.test_client(), "HELP")
    queues = at_app.extensions["queues"]
    [queued] = queues["replies"].jobs
    queued.delete()  # as if a gateway before the move had queued it:
    [[message_id]] = queued.args  # the inbox's batch job: one reply here
    queues["replies"].enqueue("gateway.tasks.send_message", message_id)
    drain(at_app)
    with at_app.extensions["db"].session() as db:
        [row] = db.query(OutboundMessage).all()
        assert row.status == "sent"
    assert len(fake_at.requests) == 1


def test_a_batch_queued_under_its_old_path_is_still_sent(at_app, fake_at):
    services = at_app.extensions["services"]
    with services.db.session() as db:
        member = add_member(db, "+8562055520001")
        row = OutboundMessage(member_id=member.id, kind="bulk", body="ສະບາຍດີ", encoding="UCS-2",
                              segments=1, status="queued")
        db.add(row)
        db.flush()
        row_id = row.id
    services.queues["bulk"].enqueue("gateway.bulk.send_batch", [row_id])
    drain(at_app)
    with services.db.session() as db:
        assert db.get(OutboundMessage, row_id).status == "sent"
    assert [r["message"] for r in fake_at.requests] == ["ສະບາຍດີ"]
    assert bulk.send_batch(services, [row_id]) == {}  # and a second run claims nothing
