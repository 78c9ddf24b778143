"""Twilio's settings. Its webhooks are signed with ``TWILIO_AUTH_TOKEN``, so Twilio
chosen without it is refused at start."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_url: str = "https://api.twilio.com"


def check(config) -> None:
    # Chosen without its secret it would take forged webhooks or none at all:
    # refuse to start rather than run with a door open or shut by surprise.
    if config.sms_provider == "twilio" and not config.twilio_auth_token:
        raise ConfigError(
            "TWILIO_AUTH_TOKEN",
            "SMS_PROVIDER=twilio needs TWILIO_AUTH_TOKEN (Twilio console → "
            "Account info): without it nobody can check that a webhook "
            "really comes from Twilio",
        )


def webhook_urls(config, public: str) -> tuple[str, list[tuple[str, str]]] | None:
    if not config.twilio_auth_token:
        return None
    return (
        "Twilio webhooks (signed with TWILIO_AUTH_TOKEN):",
        [
            (label, f"{public}{path}")
            for label, path in (("SMS", "/sms/twilio"), ("delivery", "/status/twilio"), ("voice", "/voice/twilio"))
        ],
    )
