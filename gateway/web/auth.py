"""Checking that a webhook really comes from the provider.

Africa's Talking signs nothing, so its callback URLs carry ``?token=<AT_WEBHOOK_TOKEN>``,
compared in constant time. With no token configured every request passes, and
``outreach up`` warns loudly about it.
"""

from __future__ import annotations

import hmac

from flask import current_app, request


def africastalking_ok() -> bool:
    expected = current_app.config["GATEWAY"].at_webhook_token
    if not expected:
        return True
    given = request.args.get("token", "")
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
