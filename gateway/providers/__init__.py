"""SMS providers, found by name (as rq resolves serializers).

``PROVIDERS`` is the one list of them: ``SMS_PROVIDER`` is checked against it, and
the webhooks are served for each whose class says it has them. To add one (a local
aggregator, an Android SIM gateway), subclass ``base.Provider`` (``name``, ``send``,
``parse_inbound``, ``parse_report``, and what more it can do) and add a line here.
"""

from __future__ import annotations

from importlib import import_module

from gateway.errors import ConfigError

PROVIDERS = {
    "console": "gateway.providers.console:ConsoleProvider",
    "africastalking": "gateway.providers.africastalking:AfricasTalkingProvider",
    "twilio": "gateway.providers.twilio:TwilioProvider",
    "android": "gateway.providers.android:AndroidProvider",
    "http": "gateway.providers.http:HttpProvider",
    "smpp": "gateway.providers.smpp:SmppProvider",
}


def provider_class(name: str):
    if name not in PROVIDERS:
        raise ConfigError("SMS_PROVIDER", f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}")
    module, _, attribute = PROVIDERS[name].partition(":")
    return getattr(import_module(module), attribute)


def get_provider(name: str, config):
    return provider_class(name)(config)


def with_webhooks() -> list[str]:
    """The providers that post to us (texts, reports, USSD, calls), whichever sends."""
    return [name for name in PROVIDERS if provider_class(name).webhooks]
