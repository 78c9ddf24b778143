"""The Android phones' settings (SMS Gateway for Android). Their webhooks are signed
with the app's key, so Android chosen without ``ANDROID_SIGNING_KEY`` is refused."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    android_api_url: str = ""  # the phone's server http://<phone-ip>:8080, or a server's …/3rdparty/v1
    android_username: str = ""
    android_password: str = ""
    android_signing_key: str = ""  # the app's webhook signing key (Settings → Webhooks)
    android_phones: str = ""  # several phones: device ids (one server) or local-server URLs, comma-separated
    android_rate: int = 20  # texts a minute per phone; Android refuses more than about 30
    android_bulk_ttl: int = 86400  # seconds a broadcast text may wait on a phone that is off
    android_rate_window: int = 60  # seconds ANDROID_RATE counts over (a minute; the benchmark scales it)


def check(config) -> None:
    if config.android_rate > 29:
        raise ConfigError(
            "ANDROID_RATE",
            f"Android refuses more than about 30 texts a minute "
            f"from one app; use 29 or fewer (20 is safe), got {config.android_rate}",
        )
    if config.sms_provider == "android" and not config.android_signing_key:
        raise ConfigError(
            "ANDROID_SIGNING_KEY",
            "SMS_PROVIDER=android needs ANDROID_SIGNING_KEY (the app's "
            "Settings → Webhooks → Signing key): without it nobody "
            "can check that a webhook really comes from your phones",
        )


def webhook_urls(config, public: str) -> tuple[str, list[tuple[str, str]]] | None:
    if not config.android_signing_key:
        return None
    return (
        "Android phones (signed with ANDROID_SIGNING_KEY; `outreach phones webhooks` registers it):",
        [("SMS", f"{public}/sms/android")],
    )
