"""One registry of providers, and what each says it can do: the gateway asks a
provider (``makes_recordings``, ``minutes_for``) instead of looking for attributes
it may not have, and a provider's folder brings its own settings, webhooks and
commands."""

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
        served = {route for route in routes if route.endswith(f"/{name}")}
        assert bool(served) == (name in with_webhooks()), name  # its folder's webhooks are served
    assert set(with_webhooks()) == {"africastalking", "twilio", "android", "http"}
    assert {name for name in PROVIDERS if provider_class(name).makes_recordings} == {"africastalking", "twilio"}
    with pytest.raises(ConfigError, match="must be one of console, africastalking"):
        load_config({"sms_provider": "carrier-pigeon"})


def test_a_providers_settings_are_its_own_and_join_the_configuration(tmp_path, monkeypatch):
    """Its variables are read with the rest (``SMPP_PORT`` as a whole number), and its
    check refuses a start without its secret, naming the variable."""
    from gateway.config import Config

    config = Config.from_env({"SMPP_PORT": "2776", "AT_USERNAME": "outreach"}, instance_path=tmp_path)
    assert config.smpp_port == 2776 and config.at_username == "outreach"
    with pytest.raises(ConfigError, match="SMPP_PORT: must be a whole number"):
        Config.from_env({"SMPP_PORT": "two"}, instance_path=tmp_path)
    for provider, variable in (
        ("twilio", "TWILIO_AUTH_TOKEN"),
        ("android", "ANDROID_SIGNING_KEY"),
        ("http", "HTTP_AGGREGATOR_CONFIG"),
        ("smpp", "SMPP_HOST"),
    ):
        with pytest.raises(ConfigError, match=variable):
            Config.from_env({"SMS_PROVIDER": provider}, instance_path=tmp_path)


def test_outreach_up_runs_what_the_sending_provider_needs_and_names_its_urls(tmp_path):
    from gateway.cli.up import _webhook_urls, provider_commands
    from gateway.config import Config

    assert provider_commands("smpp") == {"smpp link": ["smpp"]} and provider_commands("console") == {}
    config = Config(instance_path=tmp_path, at_webhook_token="t0k", twilio_auth_token="x")
    headings = [heading for heading, _ in _webhook_urls(config, "https://gw.example")]
    assert [h.split(" ")[0] for h in headings] == ["Africa's", "Twilio"]  # android, http: no secret, not served
    assert ("SMS", "https://gw.example/sms/africastalking?token=t0k") in _webhook_urls(config, "https://gw.example")[0][
        1
    ]


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
