"""Answering a USSD hop, whichever provider carried it.

Whatever arrives, the telco gets a reply starting ``CON `` or ``END `` (in the
provider's own shape): a stack trace or an HTTP 500 would end the member's session
with a network error instead of a message she can read.
"""

from __future__ import annotations

import logging
from typing import Callable


from gateway.channels.ussd.service import UssdHop
from gateway.runtime import runtime

log = logging.getLogger(__name__)


def answer(provider: str, read_hop: Callable[[], UssdHop]) -> str:
    """The ``CON``/``END`` text for the hop ``read_hop()`` reads from the request."""
    service = runtime().ussd
    try:
        hop = read_hop()
        if not hop.session_id:
            return service.message("ussd.error", service.default_language)
        return service.handle(hop)
    except Exception:
        # Log the type and where, never the form: it carries the phone number.
        log.exception("ussd hop via %s failed", provider)
        return service.message("ussd.error", service.default_language)
