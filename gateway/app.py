"""The application factory: ``create_app(config=None)``, as in Flask's tutorial.

The services (database, Redis, queues, provider, flows, prompts) come from
``gateway.services``, the same place the worker gets them; this adds what only
webhooks need: the channel services and the blueprints. They are kept together,
typed, as ``gateway.runtime.Runtime`` in ``app.extensions["gateway"]``, and read
through ``runtime()`` (in a request) or ``runtime_of(app)``.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from gateway import dashboard, webhooks
from gateway.channels.conversation import conversations_for
from gateway.channels.sms.inbox import Inbox
from gateway.channels.sms.service import SmsService
from gateway.channels.sms.spool import Spool
from gateway.channels.ussd.pages import PageLimits
from gateway.channels.ussd.scriptline import ScriptLine
from gateway.channels.ussd.service import UssdService
from gateway.channels.ussd.sessions import UssdSessions
from gateway.channels.voice.service import CallService
from gateway.channels.voice.studio import PhoneStudio
from gateway.config import Config
from gateway.content.recordings import Recordings
from gateway.phone import to_e164
from gateway.providers import get_provider, with_webhooks
from gateway.runtime import Runtime
from gateway.logs import setup_logging
from gateway.services import Services
from gateway.store import audit
from gateway.webhooks import headers

# The largest thing anyone sends: a recording or a members' CSV from the dashboard.
MAX_BODY_BYTES = 20 * 1024 * 1024


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    services = Services.build(config)
    settings = services.config
    app = Flask("gateway", instance_path=str(settings.instance_path.resolve()))
    app.config["GATEWAY"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    _harden(app, settings)
    setup_logging(settings)

    services.library.prepare()
    conversations = conversations_for(services)
    sms = SmsService(services, conversations)
    # Inbound webhooks are provider-specific whatever provider sends our replies; the
    # sending one is the same object, which knows its phones' health.
    parsers = {
        name: services.provider if name == services.provider.name else get_provider(name, settings)
        for name in with_webhooks()
    }
    app.extensions["gateway"] = Runtime(
        services=services,
        conversations=conversations,
        sms=sms,
        parsers=parsers,
        ussd=UssdService(
            conversations,
            UssdSessions(
                services.redis,
                settings.ussd_session_ttl,
                settings.ussd_resume_ttl,
                ScriptLine.for_url(services.redis_url),
            ),
            PageLimits(settings.ussd_page_gsm7, settings.ussd_page_ucs2),
            settings.secret_key,
            settings.default_language,
            settings.ussd_rate_limit,
        ),
        spool=Spool(settings.instance_path / "spool"),
        inbox=Inbox(services, sms, settings.instance_path),
        audio=Recordings(services.db, settings.prompts_dir / "audio"),
        calls=CallService(conversations, services.redis, settings.secret_key, settings.voice_max_repeats),
        studio=PhoneStudio(
            services.redis,
            settings.secret_key,
            settings.studio_pin,
            services.library,
            "en",
            tuple(filter(None, map(to_e164, settings.studio_numbers()))),
            _audit_to(services),
        ),
    )
    webhooks.init_app(app)
    dashboard.init_app(app)
    return app


def _audit_to(services: Services):
    """An audit writer for parts that have no database session of their own."""

    def record(action: str, detail: str) -> None:
        with services.db.session() as db:
            audit.record(db, "phone studio", action, "studio", detail)

    return record


class BoundedInt(IntegerConverter):
    """``<int:…>`` in a URL, no larger than the database's integer columns: a huge id
    is a 404, not an overflow (and a 500) in the database driver."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, max=2**31 - 1, **kwargs)


def _harden(app: Flask, settings: Config) -> None:
    """What every route shares: a body size limit (webhooks have a far lower one of
    their own), ids that fit the database, the client's real address behind
    ``TRUSTED_PROXIES`` reverse proxies (and no one else's say-so), and the
    security headers."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.url_map.converters["int"] = BoundedInt
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    headers.init_app(app)
