"""The reconciler: what a crash or a lost Redis left behind, settled every minute.

Every worker runs it (``gateway.messaging.worker``); running it in several places
at once is harmless, because rows and reminders are claimed before anything acts
on them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from gateway import broker
from gateway.messaging import broadcasts, bulk, calls, invitations, outbox, reminders, survey_closing
from gateway.polls import poll as polls
from gateway.services import Services
from gateway.store import privacy
from gateway.store.models import Broadcast, utcnow
from gateway.store.states import BroadcastState

log = logging.getLogger(__name__)
# A reply queued this long ago whose job Redis does not hold was never queued
# (Redis was down when the text came in) or was lost with Redis.
STRANDED_AFTER_S = 30


def reconcile(services: Services) -> dict:
    """Settle what a crash left behind; finish broadcasts with nothing left to send.

    Rows in ``sending`` longer than SENDING_TIMEOUT become ``unknown`` (reported,
    never resent blindly). Polls past their closing time are closed. Queued rows of
    a sending broadcast whose job Redis lost are queued again under the job's own
    id (unless held for quiet hours or a later start); so are replies whose job
    never reached Redis. Reminders past their time are fired. A duplicate job
    claims nothing.
    """
    config, database, queues = services.config, services.db, services.queues
    with database.session() as db:
        unknown = outbox.settle_stuck(db, utcnow() - timedelta(seconds=config.sending_timeout))
        # A broadcast held for quiet hours or a later start waits for its own trigger.
        held_until = broadcasts.next_allowed(utcnow(), config.quiet_window(), config.timezone)
        sending = list(
            db.scalars(
                select(Broadcast.id).where(
                    Broadcast.status == BroadcastState.SENDING,
                    (Broadcast.send_after.is_(None)) | (Broadcast.send_after <= utcnow()),
                    *([Broadcast.urgent.is_(True)] if held_until is not None else []),
                )
            )
        )
        overdue = reminders.due(db)
        polls.close_due(db)  # a closed poll's unsent questions are cancelled
        lost_calls = calls.overdue(db, config.voice_retry_minutes)
        stranded_replies = outbox.stranded_replies(db, utcnow() - timedelta(seconds=STRANDED_AFTER_S))
    for message_id in lost_calls:  # a call to try again whose job Redis lost
        broker.enqueue(queues["bulk"], "call_again", message_id, config=config)
    for reminder_id in overdue:  # their RQ trigger was lost, or is about to run: a claim decides
        broker.enqueue(queues["default"], "fire_reminder", reminder_id, config=config)
    requeued = 0
    for broadcast_id in sending:
        with database.session() as db:
            left = broadcasts.progress(db, broadcast_id)
            if left["queued"] == 0 and left["sending"] == 0 and left["waiting"] == 0:
                db.get(Broadcast, broadcast_id).status = BroadcastState.DONE
                continue
            owners = broadcasts.queued_by_job(db, broadcast_id, bulk.batch_size(services))
        # Only a job Redis no longer holds is queued again, under the same id: a
        # job waiting for its retry keeps its rows, and no row gets a fresh budget.
        for job_id, ids in owners:
            if (
                broker.enqueue(
                    queues["bulk"], "send_batch", ids, config=config, retry=broker.jobs.SEND_RETRY, job_id=job_id
                )
                is not None
            ):
                requeued += len(ids)
    for message_id in stranded_replies:  # answered 200, but Redis was down to queue the reply
        if broker.enqueue_reply(queues, message_id, config) is not None:
            requeued += 1
    invited = invitations.due(services)  # quizzes and surveys after a session that has just ended
    closed_surveys = survey_closing.due(services)
    retained = _retention_once_a_day(services)
    if unknown:
        log.warning(
            "reconciler: %d message(s) left mid-send by a stopped worker marked unknown (not resent): ids %s",
            len(unknown),
            unknown[:20],
        )
    return {
        "unknown": len(unknown),
        "requeued": requeued,
        "reminders": len(overdue),
        "invitations": len(invited),
        "surveys_closed": len(closed_surveys),
        **retained,
    }


def _retention_once_a_day(services: Services) -> dict[str, int]:
    """RETENTION_DAYS: the first reconciler run of each day, in any worker, blanks
    old message texts (the rows and counts stay)."""
    today = utcnow().strftime("%Y-%m-%d")
    if not services.redis.set(f"retention:{today}", 1, nx=True, ex=2 * 86400):
        return {}
    with services.db.session() as db:
        blanked = privacy.apply_retention(db, services.config.retention_days)
    if any(blanked.values()):
        log.info(
            "retention: %d message text(s) and %d typed repl(ies) older than %d days blanked",
            blanked["messages"],
            blanked["replies"],
            services.config.retention_days,
        )
    return {"retention_" + name: count for name, count in blanked.items()}
