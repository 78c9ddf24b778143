"""Configuration fails fast by name; /healthz tells the truth; numbers never leak."""

import logging

import pytest

from gateway.config import Config
from gateway.errors import ConfigError
from gateway.phone import mask, phone_key
from gateway.runtime import runtime_of

from .helpers import walk


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"DEFAULT_LANGUAGE": "french"}, "DEFAULT_LANGUAGE"),
        ({"USSD_PAGE_UCS2": "0"}, "USSD_PAGE_UCS2"),
        ({"PUBLIC_BASE_URL": "example.org"}, "PUBLIC_BASE_URL"),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    assert str(caught.value).startswith(f"{variable}:")


def test_defaults_are_the_embedded_ones(tmp_path):
    config = Config.from_env({}, instance_path=tmp_path)
    assert config.sqlalchemy_url == f"sqlite:///{tmp_path / 'outreach.db'}"
    assert (config.redis_url, config.sms_provider, config.timezone, config.default_language) == (
        "",
        "console",
        "Asia/Vientiane",
        "lo",
    )


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
    walk(phone, "ນ້ອຍ", "0")  # leaves a resume slot
    for _ in range(40):  # trips the rate limiter, which logs
        phone.dial()
    redis = runtime_of(app).redis
    digits = number.lstrip("+")
    for key in redis.keys("*"):
        assert digits not in key.decode() and "2055512399" not in key.decode()
        if redis.type(key) == b"string":
            assert digits not in redis.get(key).decode("utf-8", "replace")
    assert "ussd rate limit hit for ***********399" in caplog.text
    assert digits not in caplog.text and "2055512399" not in caplog.text


def test_a_database_error_is_logged_without_the_number_it_was_about(app):
    """PostgreSQL's unique-key error says ``DETAIL: Key (phone)=(+856...)``; the
    parameters would repeat it. Neither reaches a log line."""
    import io
    import logging

    from sqlalchemy.exc import IntegrityError

    from gateway.logs import RedactingFormatter
    from gateway.store.models import Member

    number = "+8562055519876"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("test.privacy")
    log.addHandler(handler)
    try:
        with runtime_of(app).db.session() as db:
            db.add(Member(phone=number, language="lo"))
        try:
            with runtime_of(app).db.session() as db:
                db.add(Member(phone=number, language="lo"))
        except IntegrityError:
            log.exception("could not add a member")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "IntegrityError" in text and "could not add a member" in text
    assert number.lstrip("+")[3:] not in text and "DETAIL" not in text


def test_redact_masks_numbers_in_free_text_and_leaves_times_and_ids():
    from gateway.phone import redact

    assert redact("from +8562055512345, then 020 5551 2345 and 8562055512345.") == (
        "from ***********345, then ********345 and **********345."
    )
    kept = "2026-11-22 10:00:00,163 job batch-3-7001 ATXid_1234567 took 1763790000 us"
    assert redact(kept) == kept


def test_healthz_is_degraded_while_no_worker_is_alive(app):
    from rq import Queue, Worker

    client = app.test_client()
    body = client.get("/healthz").json
    assert (body["status"], body["workers"]) == ("degraded", 0)  # webhooks work; sending waits
    worker = Worker([Queue("replies", connection=runtime_of(app).redis)], connection=runtime_of(app).redis)
    worker.register_birth()
    try:
        assert client.get("/healthz").json["status"] == "ok"
    finally:
        worker.register_death()
