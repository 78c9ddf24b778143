"""The HTTP aggregator's setting: the YAML file that describes it, with its token."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    http_aggregator_config: str = ""  # a YAML file describing a local aggregator's HTTP API (SMS_PROVIDER=http)


def check(config) -> None:
    if config.sms_provider == "http" and not config.http_aggregator_config:
        raise ConfigError(
            "HTTP_AGGREGATOR_CONFIG",
            "SMS_PROVIDER=http needs HTTP_AGGREGATOR_CONFIG, a YAML file describing the aggregator (with its token:)",
        )


def webhook_urls(config, public: str) -> tuple[str, list[tuple[str, str]]] | None:
    """Reads the file, so a file without a token stops ``outreach up`` before it starts."""
    if not config.http_aggregator_config:
        return None
    from gateway.providers.http.provider import AggregatorShape

    token = AggregatorShape.load(config.http_aggregator_config).token
    return (
        "HTTP aggregator:",
        [
            (label, f"{public}{path}?token={token}")
            for label, path in (("USSD", "/ussd/http"), ("SMS", "/sms/http"), ("delivery", "/status/http"))
        ],
    )
