"""Checking that a webhook really comes from the provider.

Africa's Talking signs nothing, so its callback URLs carry ``?token=<AT_WEBHOOK_TOKEN>``,
compared in constant time. Twilio signs each request (``X-Twilio-Signature``) over
the URL it called and the POST fields; behind a TLS proxy the URL Twilio called is
``PUBLIC_BASE_URL`` + path + query, not what Flask sees, so that is what we check.
With no token configured every request passes, and ``outreach up`` warns loudly.
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


def aggregator_ok() -> bool:
    """The generic HTTP aggregator: ``?token=`` or an ``X-Token`` header, as its
    configuration file says (``token:``); none configured lets every request in."""
    expected = current_app.extensions["parsers"]["http"].shape.token
    if not expected:
        return True
    given = request.args.get("token") or request.headers.get("X-Token", "")
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def twilio_ok() -> bool:
    config = current_app.config["GATEWAY"]
    if not config.twilio_auth_token:
        return True
    from twilio.request_validator import RequestValidator

    base = config.public_base_url.rstrip("/") or request.host_url.rstrip("/")
    query = request.query_string.decode("utf-8", "replace")
    url = f"{base}{request.path}" + (f"?{query}" if query else "")
    signature = request.headers.get("X-Twilio-Signature", "")
    return bool(signature) and RequestValidator(config.twilio_auth_token).validate(
        url, request.form.to_dict(), signature)
