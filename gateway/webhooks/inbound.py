"""Keeping a member's text: every provider's inbound route ends here.

Replies are not sent from a webhook: they are queued for the worker, so the
provider gets its answer at once. A 2xx means the text is durable: in the inbox,
which the worker's drainer process takes in batches (``channels/sms/inbox.py``), or,
while the database is down, in the inbound spool (``channels/sms/spool.py``). Only
when neither works does the provider get a 503, so that it tries again.
"""

from __future__ import annotations

import logging

from flask import request

from gateway.providers.base import Inbound
from gateway.runtime import runtime
from gateway.outage import is_outage

log = logging.getLogger(__name__)


def keep(provider: str, inbound: Inbound | None = None) -> bool:
    """Keep (or spool) the text, parsed from the form unless given; False if it could
    not be made durable. A form that is not a text is dropped: nothing to keep."""
    if inbound is None:
        try:
            inbound = runtime().parsers[provider].parse_inbound(request.form)
        except Exception:
            log.exception("unreadable inbound sms via %s", provider)  # nothing to keep
            return True
    if inbound is None:
        return True
    spool, inbox = runtime().spool, runtime().inbox
    try:
        inbox.add(inbound)
    except Exception as exc:
        if not is_outage(exc):  # a bug: the provider would only retry it. No form in the log.
            log.exception("inbound sms via %s failed", provider)
            return True
        log.warning("inbound sms via %s spooled: %s unreachable", provider, type(exc).__name__)
        try:
            spool.add(inbound)
        except OSError:
            log.exception("inbound sms via %s could not be spooled either", provider)
            return False
    spool.watch(inbox.add)  # gunicorn's workers start it; a server of another kind, here
    return True
