"""SMS providers: one folder each, found by name (as rq resolves serializers).

``PROVIDERS`` is the one list of them: ``SMS_PROVIDER`` is checked against it, its
settings join the configuration, its webhooks are served and its commands join
``outreach``. A provider's folder holds, by these names:

- ``provider.py``: the class named here, a ``base.Provider``: sending, parsing what
  the provider posts, and its status map (required);
- ``settings.py``: a frozen dataclass ``Settings`` of its environment variables
  (each field is the variable's name in lower case), ``check(config)`` that refuses
  a start without its secret, ``webhook_urls(config, public)`` for ``outreach up``
  to print, and ``COMMANDS``, the long-lived processes it needs (the SMPP link);
- ``webhooks.py``: its Flask blueprint ``bp`` (inbound texts, reports, USSD, calls),
  each route behind its own signature check;
- ``cli.py``: its ``outreach`` commands.

Only ``provider.py`` is required; the others are found when they exist. Adding a
provider is its folder, its line here and its tests (``docs/architecture.md``).
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

from gateway.errors import ConfigError

PROVIDERS = {
    "console": "gateway.providers.console:ConsoleProvider",
    "africastalking": "gateway.providers.africastalking:AfricasTalkingProvider",
    "twilio": "gateway.providers.twilio:TwilioProvider",
    "android": "gateway.providers.android:AndroidProvider",
    "http": "gateway.providers.http:HttpProvider",
    "smpp": "gateway.providers.smpp:SmppProvider",
}


def part(name: str, module: str) -> ModuleType | None:
    """The provider's ``module`` (``settings``, ``webhooks``, ``cli``), or None when
    its folder has none."""
    package = PROVIDERS[name].partition(":")[0]
    if find_spec(f"{package}.{module}") is None:
        return None
    return import_module(f"{package}.{module}")


def parts(module: str) -> list[ModuleType]:
    """Every provider's ``module``, where it has one, in the registry's order."""
    return [found for name in PROVIDERS if (found := part(name, module)) is not None]


def provider_class(name: str):
    if name not in PROVIDERS:
        raise ConfigError("SMS_PROVIDER", f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}")
    package, _, attribute = PROVIDERS[name].partition(":")
    return getattr(import_module(f"{package}.provider"), attribute)


def get_provider(name: str, config):
    return provider_class(name)(config)


def with_webhooks() -> list[str]:
    """The providers that post to us (texts, reports, USSD, calls), whichever sends."""
    return [name for name in PROVIDERS if part(name, "webhooks") is not None]
