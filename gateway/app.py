"""The application factory: ``create_app(config=None)``, as in Flask's tutorial."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from gateway import broker, store, web
from gateway.channels.actions import ACTIONS
from gateway.channels.conversation import Conversations
from gateway.channels.sms.service import SmsService
from gateway.channels.ussd.pages import PageLimits
from gateway.channels.ussd.service import UssdService
from gateway.channels.ussd.sessions import UssdSessions
from gateway.channels.voice.service import AudioLibrary, CallService
from gateway.config import Config
from gateway.content.flows import load_book
from gateway.content.prompts import Catalog
from gateway.providers import get_provider


def load_config(config: Config | Mapping[str, Any] | None = None) -> Config:
    """A Config from the environment (and ``.env``), with ``config`` overriding it."""
    if isinstance(config, Config):
        return config.checked().with_secret()
    if Path(".env").exists():
        from dotenv import load_dotenv

        load_dotenv(".env", override=False)
    return Config.from_env(**dict(config or {})).with_secret()


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask("gateway", instance_path=str(settings.instance_path.resolve()))
    app.config["GATEWAY"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    database = store.init_app(app)
    redis = broker.init_app(app)
    book = load_book(settings.flows_dir)
    catalog = Catalog.load(settings.prompts_dir, settings.timezone)
    conversations = Conversations(book, database, ACTIONS, settings.default_language)
    app.extensions.update(book=book, catalog=catalog, conversations=conversations)
    app.extensions["ussd"] = UssdService(
        book, catalog, conversations,
        UssdSessions(redis, settings.ussd_session_ttl, settings.ussd_resume_ttl),
        PageLimits(settings.ussd_page_gsm7, settings.ussd_page_ucs2),
        settings.secret_key, settings.default_language, settings.ussd_rate_limit)
    app.extensions["provider"] = get_provider(settings.sms_provider, settings)
    # Inbound webhooks are provider-specific whatever provider sends our replies.
    app.extensions["parsers"] = {name: get_provider(name, settings)
                                 for name in ("africastalking", "twilio")}
    app.extensions["sms"] = SmsService(
        catalog, conversations, database, redis, app.extensions["queues"], settings.secret_key,
        settings.default_language, settings.sms_session_ttl,
        (settings.job_result_ttl, settings.job_failure_ttl))
    app.extensions["audio"] = AudioLibrary(settings.prompts_dir / "audio")
    app.extensions["calls"] = CallService(conversations, catalog, redis, settings.secret_key,
                                          settings.voice_max_repeats)
    web.init_app(app)
    return app
