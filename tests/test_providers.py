"""One registry of providers, and what each says it can do: the gateway asks a
provider (``makes_recordings``, ``minutes_for``, ``webhooks``) instead of looking
for attributes it may not have."""

from __future__ import annotations

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError, PermanentProviderError
from gateway.providers import PROVIDERS, get_provider, provider_class, with_webhooks
from gateway.providers.base import Provider


def test_every_provider_is_in_the_one_registry_and_says_what_it_can_do(app):
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    for name in PROVIDERS:
        cls = provider_class(name)
        assert issubclass(cls, Provider) and cls.name == name
        assert (f"/sms/{name}" in routes) == cls.webhooks, name  # its webhooks are served, and only then
    assert set(with_webhooks()) == {"africastalking", "twilio", "android", "http"}
    assert {name for name in PROVIDERS if provider_class(name).makes_recordings} == {"africastalking", "twilio"}
    with pytest.raises(ConfigError, match="must be one of console, africastalking"):
        load_config({"sms_provider": "carrier-pigeon"})


def test_a_provider_with_nothing_extra_answers_for_itself():
    console = get_provider("console", None)
    assert console.minutes_for(1000) is None and console.senders() == 1 and console.sender_health() is None
    assert console.batch_size is None and console.parse_inbound({"from": "+8562055512345"}) is None
    console.attach(None)  # nothing to share
    with pytest.raises(PermanentProviderError, match="console makes no recordings"):
        console.fetch_recording("https://example.org/a.mp3")


def test_a_provider_that_places_no_calls_says_so_in_its_outcome():
    class TextsOnly(Provider):
        name = "texts-only"

    outcome = TextsOnly().call("+8562055512345", "https://gw/voice", "https://gw/status")
    assert not outcome.accepted and outcome.error == "texts-only places no calls"
