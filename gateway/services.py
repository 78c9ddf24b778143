"""The services every part of the gateway runs against, assembled in one place,
without Flask.

The web app (``gateway.app``), the RQ worker (``gateway.messaging.worker``) and the
``outreach`` commands each build one ``Services`` from the configuration. A job
asks for ``current()``: the services of its process, built once in the worker's
parent and inherited by every forked job. So a job never builds the web app, and
nothing below the web layer imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from redis import Redis
from rq import Queue

from gateway import broker
from gateway.config import Config, load_config
from gateway.content.edition import read_folders
from gateway.content.library import Library
from gateway.content.prompts import Catalog
from gateway.engine.model import FlowBook
from gateway.providers import get_provider
from gateway.providers.base import Provider
from gateway.store.database import Database
from gateway.store.secrets import with_shared_secrets


@dataclass
class Services:
    """Configuration, the database, Redis and its queues, the provider that sends,
    and the content (flows and prompts, live from the database): what a webhook, a
    job or a command needs."""

    config: Config
    db: Database
    redis: Redis
    redis_url: str
    queues: dict[str, Queue]
    provider: Provider
    library: Library

    @property
    def book(self) -> FlowBook:
        """The published flows (a conversation in progress uses its own edition's)."""
        return self.library.current().book

    @property
    def catalog(self) -> Catalog:
        """The published prompts (a conversation in progress uses its own edition's)."""
        return self.library.current().catalog

    @classmethod
    def build(cls, config: Config | Mapping[str, Any] | None = None) -> Services:
        settings = load_config(config)
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        redis_url = settings.redis_url or broker.embedded_redis_url(settings.instance_path)
        redis = broker.connect(redis_url)
        provider = get_provider(settings.sms_provider, settings)
        provider.attach(redis)  # limits every worker shares (Android phones, the SMPP link)
        db = Database(settings.sqlalchemy_url)
        settings = with_shared_secrets(settings, db)
        library = Library(
            db,
            redis,
            lambda: read_folders(settings.flows_dir, settings.prompts_dir, settings.quizzes_dir, settings.surveys_dir),
            settings.timezone,
        )
        return cls(
            config=settings,
            db=db,
            redis=redis,
            redis_url=redis_url,
            queues=broker.queues(redis),
            provider=provider,
            library=library,
        )


_current: Services | None = None


def bind(services: Services) -> None:
    """Run jobs in this process against ``services`` (the worker, tests, the simulator)."""
    global _current
    _current = services


def current() -> Services:
    """This process's services, built from the environment on first use."""
    if _current is None:
        bind(Services.build())
    return _current
