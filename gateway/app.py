"""The application factory: ``create_app(config=None)``, as in Flask's tutorial.

The services (database, Redis, queues, provider, flows, prompts) come from
``gateway.services``, the same place the worker gets them; this adds what only
webhooks need: the channel services and the blueprints. The parts are also kept
in ``app.extensions`` under their own names, as flaskr does.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from gateway import dashboard, web
from gateway.channels.conversation import conversations_for
from gateway.channels.sms.inbox import Inbox
from gateway.channels.sms.service import SmsService
from gateway.channels.sms.spool import Spool
from gateway.channels.ussd.pages import PageLimits
from gateway.channels.ussd.service import UssdService
from gateway.channels.ussd.sessions import UssdSessions
from gateway.channels.voice.service import CallService
from gateway.channels.voice.studio import PhoneStudio
from gateway.config import Config
from gateway.content.recordings import Recordings
from gateway.providers import get_provider
from gateway.scriptline import ScriptLine
from gateway.services import Services, setup_logging


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    services = Services.build(config)
    settings = services.config
    app = Flask("gateway", instance_path=str(settings.instance_path.resolve()))
    app.config["GATEWAY"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    setup_logging(settings)

    conversations = conversations_for(services)
    app.extensions.update(
        services=services, db=services.db, redis=services.redis, redis_url=services.redis_url,
        queues=services.queues, provider=services.provider, book=services.book,
        catalog=services.catalog, conversations=conversations)
    app.extensions["ussd"] = UssdService(
        services.book, services.catalog, conversations,
        UssdSessions(services.redis, settings.ussd_session_ttl, settings.ussd_resume_ttl,
                     ScriptLine.for_url(services.redis_url)),
        PageLimits(settings.ussd_page_gsm7, settings.ussd_page_ucs2),
        settings.secret_key, settings.default_language, settings.ussd_rate_limit)
    # Inbound webhooks are provider-specific whatever provider sends our replies.
    app.extensions["parsers"] = {name: get_provider(name, settings)
                                 for name in ("africastalking", "twilio", "android", "http")}
    if services.provider.name in app.extensions["parsers"]:  # the sending one knows its phones' health
        app.extensions["parsers"][services.provider.name] = services.provider
    app.extensions["sms"] = SmsService(services, conversations)
    app.extensions["spool"] = Spool(settings.instance_path / "spool")
    app.extensions["inbox"] = Inbox(services, app.extensions["sms"], settings.instance_path)
    app.extensions["audio"] = Recordings(settings.recordings_path(), settings.prompts_dir / "audio")
    app.extensions["calls"] = CallService(conversations, services.catalog, services.redis,
                                          settings.secret_key, settings.voice_max_repeats)
    app.extensions["studio"] = PhoneStudio(services.redis, settings.secret_key, settings.studio_pin,
                                           services.catalog, "en")
    web.init_app(app)
    dashboard.init_app(app)
    return app
