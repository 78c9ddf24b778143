"""Configuration fails fast by name; /healthz tells the truth; numbers never leak."""

import logging

import pytest

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.phone import mask, phone_key

from .helpers import walk


@pytest.mark.parametrize("env,variable", [({"PORT": "eighty"}, "PORT"),
                                          ({"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER"),
                                          ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
                                          ({"DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE"),
                                          ({"USSD_PAGE_UCS2": "0"}, "USSD_PAGE_UCS2"),
                                          ({"PUBLIC_BASE_URL": "example.org"}, "PUBLIC_BASE_URL")])
def test_bad_settings_fail_fast_naming_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    assert str(caught.value).startswith(f"{variable}:")


def test_defaults_are_the_embedded_ones(tmp_path):
    config = Config.from_env({}, instance_path=tmp_path)
    assert config.sqlalchemy_url == f"sqlite:///{tmp_path / 'outreach.db'}"
    assert (config.redis_url, config.sms_provider, config.timezone, config.default_language) == \
        ("", "console", "Asia/Vientiane", "lo")


def test_healthz_ok_and_degraded(make_app):
    assert make_app().test_client().get("/healthz").status_code == 200
    broken = make_app(redis_url="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["redis"] == "down"


def test_masking():
    assert mask("+8562055512345") == "***********345"
    assert phone_key("+8562055512345", "a") != phone_key("+8562055512345", "b")


def test_no_phone_number_in_logs_or_redis_keys(app, phone_factory, caplog):
    caplog.set_level(logging.DEBUG)
    number = "+8562055512399"
    phone = phone_factory(number)
    walk(phone, "1", "ນ້ອຍ", "0")              # leaves a resume slot
    for _ in range(40):                         # trips the rate limiter, which logs
        phone.dial()
    redis = app.extensions["redis"]
    digits = number.lstrip("+")
    for key in redis.keys("*"):
        assert digits not in key.decode() and "2055512399" not in key.decode()
        if redis.type(key) == b"string":
            assert digits not in redis.get(key).decode("utf-8", "replace")
    assert "ussd rate limit hit for ***********399" in caplog.text
    assert digits not in caplog.text and "2055512399" not in caplog.text
