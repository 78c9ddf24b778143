"""Checking that a webhook really comes from its provider: no door opens without its key.

A provider's routes are served only when its secret is configured, and each request
must carry that secret:

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

from flask import Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

log = logging.getLogger(__name__)

# Far longer than any USSD hop, text, report or call callback; a larger body is not read.
WEBHOOK_MAX_BYTES = 64 * 1024


def configured(provider: str) -> bool:
    """Whether ``provider``'s webhooks have the secret they are checked with."""
    config = current_app.config["GATEWAY"]
    if provider == "africastalking":
        return bool(config.at_webhook_token)
    if provider == "twilio":
        return bool(config.twilio_auth_token)
    if provider == "android":
        return bool(config.android_signing_key)
    if provider == "http":
        return bool(current_app.extensions["parsers"]["http"].shape.token)
    return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def authentic(provider: str) -> bool:
    """Whether this request carries ``provider``'s secret (call ``configured`` first)."""
    config = current_app.config["GATEWAY"]
    if provider == "africastalking":
        return _same(request.args.get("token", ""), config.at_webhook_token)
    if provider == "http":
        given = request.args.get("token") or request.headers.get("X-Token", "")
        return _same(given, current_app.extensions["parsers"]["http"].shape.token)
    if provider == "android":
        return current_app.extensions["parsers"]["android"].verified(request.get_data(cache=True), request.headers)
    if provider == "twilio":
        from twilio.request_validator import RequestValidator

        base = config.public_base_url.rstrip("/") or request.host_url.rstrip("/")
        query = request.query_string.decode("utf-8", "replace")
        url = f"{base}{request.path}" + (f"?{query}" if query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        return bool(signature) and RequestValidator(config.twilio_auth_token).validate(
            url, request.form.to_dict(), signature)
    return False


def webhook(provider: str, refuse: Callable[[int], Response]):
    """The route is ``provider``'s webhook: served only when its secret is configured
    (404 otherwise), entered only with it (403), and never with a body over
    ``WEBHOOK_MAX_BYTES`` (413). ``refuse(status)`` is the channel's own reply."""
    def wrap(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not configured(provider):
                return refuse(404)
            if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
                return refuse(413)
            request.max_content_length = WEBHOOK_MAX_BYTES  # a chunked body stops there too
            try:
                ok = authentic(provider)
            except RequestEntityTooLarge:
                return refuse(413)
            if not ok:
                log.warning("webhook %s refused: no valid %s credentials", request.path, provider)
                return refuse(403)
            return view(*args, **kwargs)
        return guarded
    return wrap
