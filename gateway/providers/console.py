"""The console provider: the default before any telco is connected.

Nothing leaves the machine. Messages are accepted at once and stay in the outbox
table, where ``outreach simulate`` shows them under the screen that caused them.
"""

from __future__ import annotations

import uuid
from typing import Mapping, Sequence

from gateway.providers.base import DeliveryReport, Inbound, SendOutcome


class ConsoleProvider:
    name = "console"
    recipients_per_request = None

    def __init__(self, config=None):
        self.config = config

    def send(self, text: str, phones: Sequence[str], **options) -> list[SendOutcome]:
        return [SendOutcome(phone, True, f"console-{uuid.uuid4().hex[:12]}") for phone in phones]

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        return SendOutcome(phone, True, f"console-call-{uuid.uuid4().hex[:12]}")

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None:
        return None

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | None:
        return None
