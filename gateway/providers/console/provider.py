"""The console provider: the default before any telco is connected.

Nothing leaves the machine. Messages are accepted at once and stay in the outbox
table, where ``outreach simulate`` shows them under the screen that caused them.
"""

from __future__ import annotations

import uuid
from typing import Sequence

from gateway.providers.base import Provider, SendOutcome


class ConsoleProvider(Provider):
    name = "console"
    recipients_per_request = None

    def __init__(self, config=None):
        self.config = config

    def send(self, text: str, phones: Sequence[str], **options) -> list[SendOutcome]:
        return [SendOutcome(phone, True, f"console-{uuid.uuid4().hex[:12]}") for phone in phones]

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        return SendOutcome(phone, True, f"console-call-{uuid.uuid4().hex[:12]}")
