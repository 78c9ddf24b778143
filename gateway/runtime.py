"""The web app's parts, typed: ``runtime()`` inside a request, ``runtime_of(app)``
outside one. One way to reach each part, so a webhook, a dashboard page and a
command that builds the app all get the same database, Redis and services.

``Services`` (``gateway.services``) is what every process has: configuration, the
database, Redis and its queues, the sending provider and the content. The web app
adds what only it needs: the channel services and each provider's parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # imported for their names only: this module is read by every request
    from redis import Redis
    from rq import Queue

    from gateway.channels.conversation import Conversations
    from gateway.channels.sms.inbox import Inbox
    from gateway.channels.sms.service import SmsService
    from gateway.channels.sms.spool import Spool
    from gateway.channels.ussd.service import UssdService
    from gateway.channels.voice.service import CallService
    from gateway.channels.voice.studio import PhoneStudio
    from gateway.config import Config
    from gateway.content.recordings import Recordings
    from gateway.providers.base import Provider
    from gateway.services import Services
    from gateway.store.database import Database


@dataclass
class Runtime:
    services: Services
    conversations: Conversations
    ussd: UssdService
    sms: SmsService
    inbox: Inbox
    spool: Spool
    audio: Recordings
    calls: CallService
    studio: PhoneStudio
    parsers: dict[str, Provider]  # every provider with webhooks, by name: what parses its posts

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def redis(self) -> Redis:
        return self.services.redis

    @property
    def queues(self) -> dict[str, Queue]:
        return self.services.queues

    @property
    def provider(self) -> Provider:
        """The provider that sends."""
        return self.services.provider


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["gateway"]


def runtime() -> Runtime:
    """This request's app's parts."""
    return current_app.extensions["gateway"]
