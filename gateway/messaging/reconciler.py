"""The reconciler: what a crash or a lost Redis left behind, settled every minute.

Every worker runs it (``gateway.worker``); running it in several places at once is
harmless, because rows and reminders are claimed before anything acts on them.
"""

from __future__ import annotations

import logging

from gateway.messaging import jobs as tasks

log = logging.getLogger(__name__)


def reconcile(application) -> dict:
    """Settle what a crash left behind; finish broadcasts with nothing left to send.

    Rows in ``sending`` longer than SENDING_TIMEOUT become ``unknown`` (reported,
    never resent blindly). Polls past their closing time are closed. Queued rows of
    a sending broadcast are queued again (unless held for quiet hours or a later
    start), and reminders past their time are fired: Redis may have lost their jobs,
    and a duplicate job claims nothing.
    """
    from datetime import timedelta

    from sqlalchemy import select

    from gateway.messaging import broadcasts, bulk, outbox, reminders
    from gateway.messaging import calls as outbound_calls
    from gateway.polls import poll as polls
    from gateway.store.models import Broadcast, utcnow

    config = application.config["GATEWAY"]
    database = application.extensions["db"]
    with database.session() as db:
        unknown = outbox.settle_stuck(db, utcnow() - timedelta(seconds=config.sending_timeout))
        # A broadcast held for quiet hours or a later start waits for its own trigger.
        held_until = broadcasts.next_allowed(utcnow(), config.quiet_window(), config.timezone)
        sending = [] if held_until is not None else list(db.scalars(
            select(Broadcast.id).where(Broadcast.status == "sending",
                                       (Broadcast.send_after.is_(None)) | (Broadcast.send_after <= utcnow()))))
        overdue = reminders.due(db)
        polls.close_due(db)  # a closed poll's unsent questions are cancelled
        lost_calls = outbound_calls.overdue(db, config.voice_retry_minutes)
    for message_id in lost_calls:  # a call to try again whose job Redis lost
        application.extensions["queues"]["bulk"].enqueue(outbound_calls.call_again, message_id)
    for reminder_id in overdue:  # their RQ trigger was lost, or is about to run: a claim decides
        application.extensions["queues"]["default"].enqueue(reminders.fire, reminder_id)
    requeued = 0
    for broadcast_id in sending:
        with database.session() as db:
            left = broadcasts.progress(db, broadcast_id)
            if left["queued"] == 0 and left["sending"] == 0 and left["waiting"] == 0:
                db.get(Broadcast, broadcast_id).status = "done"
                continue
            batches = broadcasts.queued_batches(db, broadcast_id, config.bulk_batch_size)
        for ids in batches:
            application.extensions["queues"]["bulk"].enqueue(
                bulk.send_batch, ids, retry=tasks.SEND_RETRY, result_ttl=config.job_result_ttl,
                failure_ttl=config.job_failure_ttl)
            requeued += len(ids)
    if unknown:
        log.warning("reconciler: %d message(s) left mid-send by a stopped worker marked unknown "
                    "(not resent): ids %s", len(unknown), unknown[:20])
    return {"unknown": len(unknown), "requeued": requeued, "reminders": len(overdue)}
