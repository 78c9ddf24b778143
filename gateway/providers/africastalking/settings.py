"""Africa's Talking's settings. Its webhooks are always served, behind a token: it
signs nothing, so its callback URLs carry ``?token=AT_WEBHOOK_TOKEN`` (or, unset,
the install's own token, generated on first start)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    at_username: str = ""
    at_api_key: str = ""
    at_sender_id: str = ""
    at_webhook_token: str = ""  # empty: the deployment's token, made once and kept in the database
    at_api_url: str = "https://api.africastalking.com"
    at_voice_url: str = "https://voice.africastalking.com"  # AT places calls from another host
    at_voice_number: str = ""  # the AT number calls come from (reminder calls, call-backs)


def check(config) -> None:
    """Nothing to refuse: without AT_WEBHOOK_TOKEN the install's own token locks its routes."""


def webhook_urls(config, public: str) -> tuple[str, list[tuple[str, str]]]:
    token = f"?token={config.at_webhook_token}"
    return (
        "Africa's Talking callback URLs (the token is this install's; keep them private):",
        [
            (label, f"{public}{path}{token}")
            for label, path in (
                ("USSD", "/ussd/africastalking"),
                ("SMS", "/sms/africastalking"),
                ("delivery", "/status/africastalking"),
                ("voice", "/voice/africastalking"),
            )
        ],
    )
