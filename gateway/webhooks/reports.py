"""Applying a provider's delivery report, or its word that a member opted out.

A report moves its outbox row forward (a final state never moves back). An unknown
id changes nothing. Africa's Talking's bulk opt-out notification (``senderId``,
``phoneNumber``) may come to the same URL as its reports.
"""

from __future__ import annotations

import logging

from flask import request

from gateway.messaging import outbox
from gateway.phone import mask, to_e164
from gateway.providers.base import DeliveryReport, OptOutNotice
from gateway.runtime import runtime
from gateway.store import members
from gateway.store.models import utcnow

log = logging.getLogger(__name__)


def apply_form(provider: str) -> None:
    """Parse the posted form as ``provider``'s report and apply it; a failure is logged."""
    try:
        report = runtime().parsers[provider].parse_report(request.form)
        if report is not None:
            apply(report)
    except Exception:
        log.exception("delivery report via %s failed", provider)


def apply(report: DeliveryReport | OptOutNotice) -> None:
    """Raises what the database raises: a caller that can ask again (a 503) does."""
    with runtime().db.session() as db:
        if isinstance(report, OptOutNotice):
            member = members.by_phone(db, to_e164(report.phone) or "")
            if member is not None and member.opted_out_at is None:
                member.opted_out_at = utcnow()
                log.info("member %s opted out at %s", mask(member.phone), report.provider)
        else:
            outbox.apply_report(db, report)
