"""The SMPP link's settings, and the process that holds the bind."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ConfigError

# ``outreach up`` runs these when SMPP sends: one long-lived process holds the bind.
COMMANDS = {"smpp link": ["smpp"]}


@dataclass(frozen=True)
class Settings:
    smpp_host: str = ""  # the SMSC of a local aggregator or operator (SMS_PROVIDER=smpp)
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    smpp_source: str = ""  # the short code or registered sender id texts come from
    smpp_tps: int = 10  # submit_sm a second the SMSC allows on this bind
    smpp_window: int = 30  # unanswered submit_sm at once (2-3 times the TPS)
    smpp_enquire_s: int = 30  # enquire_link after this long without sending


def check(config) -> None:
    if config.sms_provider == "smpp" and not (config.smpp_host and config.smpp_system_id):
        raise ConfigError(
            "SMPP_HOST", "SMS_PROVIDER=smpp needs SMPP_HOST, SMPP_SYSTEM_ID and SMPP_PASSWORD from your aggregator"
        )
