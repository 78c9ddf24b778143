"""Checking that a webhook really comes from its provider: no door opens without its key.

A provider's routes are served only when its secret is configured, and each request
must carry that secret. Each provider's ``webhooks.py`` says how:

- **Africa's Talking** signs nothing, so its callback URLs carry ``?token=``:
  ``AT_WEBHOOK_TOKEN``, or when that is unset the install's own token, generated on
  first start (``instance/webhook_token``). Its routes are therefore always served,
  and always locked.
- **Twilio** signs each request (``X-Twilio-Signature``) over the URL it called and the
  POST fields, with ``TWILIO_AUTH_TOKEN``. Behind a TLS proxy the URL Twilio called is
  ``PUBLIC_BASE_URL`` + path + query, not what Flask sees, so that is what we check.
- **Android** (SMS Gateway for Android): an HMAC over the body and a fresh timestamp,
  with ``ANDROID_SIGNING_KEY`` (``providers/android/signature.py``).
- **The HTTP aggregator**: its configuration file's ``token:``, as ``?token=`` or an
  ``X-Token`` header.

Not configured: 404, as if the route did not exist. Configured but the request does
not carry the secret: 403. Either way the request is answered in its channel's own
shape, before its body is parsed, and nothing is read or written.
"""

from __future__ import annotations

import functools
import hmac
import logging
from typing import Callable

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

log = logging.getLogger(__name__)

# Far longer than any USSD hop, text, report or call callback; a larger body is not read.
WEBHOOK_MAX_BYTES = 64 * 1024


def same(given: str, expected: str) -> bool:
    """Whether a secret the request carries is ``expected``, in constant time."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def webhook(provider: str, configured: Callable[[], bool], authentic: Callable[[], bool]):
    """A guard for ``provider``'s routes: ``@guard(refuse)`` serves a route only when
    ``configured()`` says its secret is set (404 otherwise), enters it only when
    ``authentic()`` finds the secret in the request (403), and never with a body over
    ``WEBHOOK_MAX_BYTES`` (413). ``refuse(status)`` is the channel's own reply."""

    def guard(refuse: Callable[[int], Response]):
        return functools.partial(_guarded, provider, configured, authentic, refuse)

    return guard


def _guarded(provider, configured, authentic, refuse, view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not configured():
            return refuse(404)
        if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
            return refuse(413)
        request.max_content_length = WEBHOOK_MAX_BYTES  # a chunked body stops there too
        try:
            ok = authentic()
        except RequestEntityTooLarge:
            return refuse(413)
        if not ok:
            log.warning("webhook %s refused: no valid %s credentials", request.path, provider)
            return refuse(403)
        return view(*args, **kwargs)

    return guarded
