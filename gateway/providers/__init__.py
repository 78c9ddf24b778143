"""SMS providers, found by name (as rq resolves serializers).

To add one (a local aggregator, an Android SIM gateway), write a class with
``name``, ``send``, ``parse_inbound`` and ``parse_report`` (see ``base.Provider``)
and add it to ``PROVIDERS``.
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
