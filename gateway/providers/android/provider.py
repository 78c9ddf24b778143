"""SMS Gateway for Android (github: capcom6/android-sms-gateway): two-way SMS through
Android phones with local SIMs, where no telco offers an API (Laos today).

Sending goes through the official client (``android-sms-gateway`` on PyPI) to the
phone's own server (``http://<phone>:8080``) or a private or cloud server
(``…/3rdparty/v1``): one request per text, with

- ``id`` set from our outbox row, so a retry after a lost answer cannot send twice
  (the app keeps the first message with that id);
- ``priority`` 100 for replies, which skips the phone's own queue and delays, and 0
  for bulk;
- ``ttl`` for bulk, so a phone that was off does not send yesterday's reminder
  tomorrow.

Which phone sends is the pool's choice (``pool.py``): each at its own rate, shared
by every worker; a phone that fails to answer rests a while. Inbound texts and
delivery reports arrive as signed JSON webhooks on ``POST /sms/android``
(``signature.py``); the phone retries an event for about two days, so the event's
``id`` is what makes a retried event count once.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import requests
from android_sms_gateway import client, domain, errors
from android_sms_gateway.http import RequestsHttpClient

from gateway.errors import ConfigError, TransientProviderError
from gateway.providers.android import signature
from gateway.providers.android.pool import Phone, PhonePool, phones_from
from gateway.providers.base import (
    DeliveryReport,
    Inbound,
    Provider,
    SendOutcome,
    SettledSession,
    request_was_written,
    transport_outcome,
)

EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "system:ping")
REPORT_STATUS = {"sms:sent": "sent", "sms:delivered": "delivered", "sms:failed": "failed"}
URGENT, BULK = 100, 0  # the app's priority: 100 and up bypass the phone's own delays
# How long a reply may wait for a phone with room; bulk waits for the next free slot.
REPLY_WAIT_S, BULK_WAIT_S = 5.0, 90.0


class _TimedSession(SettledSession):
    """The client's requests session, with our timeout on every call."""

    def __init__(self, timeout_s: float):
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(*args, **kwargs)


class AndroidProvider(Provider):
    name = "android"
    recipients_per_request = 1  # the app sends one text per request here (its own id each)

    def __init__(self, config):
        if config.sms_provider == "android" and not config.android_api_url:
            raise ConfigError(
                "ANDROID_API_URL",
                "set it to the phone's local server (http://<phone-ip>:8080) or a server's …/3rdparty/v1",
            )
        self.username, self.password = config.android_username, config.android_password
        self.signing_key = config.android_signing_key
        self.phones = phones_from(config.android_api_url, config.android_phones)
        self.rate, self.bulk_ttl = config.android_rate, config.android_bulk_ttl
        self.window_s = config.android_rate_window
        self.timeout_s = config.provider_timeout_ms / 1000
        self.pool: PhonePool | None = None

    def attach(self, redis) -> None:
        """Share the phones' rates and health through Redis (done by ``Services``)."""
        self.pool = PhonePool(redis, self.phones, self.rate, self.window_s)

    @property
    def batch_size(self) -> int:
        """Rows one bulk job takes: about 20 s of the pool's rate, so a worker busy
        with a broadcast comes back to replies between batches."""
        return max(1, self.rate * len(self.phones) // 3)

    def minutes_for(self, messages: int) -> float:
        """How long ``messages`` texts take at the phones' rate (for the preview)."""
        return messages / max(self.rate * len(self.phones), 1) * self.window_s / 60

    def senders(self) -> int:
        return len(self.phones)

    def sender_health(self) -> list[dict] | None:
        """Which phones are sending, and why others rest (for /healthz)."""
        if self.pool is None:
            return None
        return [
            {
                "name": p.phone.name,
                "in_rotation": p.in_rotation,
                "sent_last_minute": p.sent_last_minute,
                "reason": p.reason,
            }
            for p in self.pool.status()
        ]

    def answered(self, device_id: str | None) -> None:
        """The phone ``device_id`` pinged us: it is alive, so back in the rotation."""
        if self.pool is None:
            return
        for known in self.phones:
            if known.device_id in (None, device_id):
                self.pool.answered(known)

    # ------------------------------------------------------------------ sending

    def send(
        self,
        text: str,
        phones: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        urgent: bool = True,
        ttl: int | None = None,
    ) -> list[SendOutcome]:
        ids = list(ids) if ids is not None else [None] * len(phones)
        return [
            self._send_one(text, number, message_id, urgent, ttl)
            for number, message_id in zip(phones, ids, strict=True)
        ]

    def _send_one(self, text: str, number: str, message_id: str | None, urgent: bool, ttl: int | None) -> SendOutcome:
        if self.pool is None:
            raise TransientProviderError("android: the phone pool is not attached to Redis")
        slot = self.pool.acquire(urgent=urgent, wait_s=REPLY_WAIT_S if urgent else BULK_WAIT_S)
        if slot is None:
            return SendOutcome(
                number, False, error="android: no phone free (all resting or at their rate)", transient=True
            )
        outcome, reached = self._send_through(slot.phone, text, number, message_id, urgent, ttl)
        self.pool.done(slot, reached_phone=reached)  # a refused connection gives its slot back
        return outcome

    def _send_through(
        self, phone: Phone, text: str, number: str, message_id: str | None, urgent: bool, ttl: int | None
    ) -> tuple[SendOutcome, bool]:
        """(what became of the text, whether the request reached the phone)."""
        message = domain.Message(
            phone_numbers=[number],
            text_message=domain.TextMessage(text=text),
            id=message_id,
            priority=domain.MessagePriority(URGENT if urgent else BULK),
            ttl=None if urgent else (ttl or self.bulk_ttl),
            with_delivery_report=True,
            device_id=phone.device_id,
        )
        try:
            with self._client(phone) as api:
                state = api.send(message)
        except requests.RequestException as exc:
            self.pool.rest(phone, f"no answer: {type(exc).__name__}")
            return transport_outcome(number, f"android {phone.name}", exc), request_was_written(exc)
        except errors.APIError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:  # it answered, and did not take it
                self.pool.rest(phone, f"refused: HTTP {status}")
                return SendOutcome(number, False, error=f"android {phone.name}: HTTP {status}", transient=True), True
            self.pool.answered(phone)
            return SendOutcome(number, False, error=f"android {phone.name}: HTTP {status}"), True
        self.pool.answered(phone)
        if str(getattr(state.state, "value", state.state)).lower() == "failed":
            return SendOutcome(number, False, state.id, error=f"android {phone.name}: failed"), True
        return SendOutcome(number, True, state.id or message_id), True

    def _client(self, phone: Phone) -> client.APIClient:
        return client.APIClient(
            self.username or None,
            self.password,
            base_url=phone.url,
            http=RequestsHttpClient(_TimedSession(self.timeout_s)),
        )

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        return SendOutcome(phone, False, error="android phones place no calls; use Twilio or Somleng")

    # ------------------------------------------------------------------ webhooks

    def verified(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return signature.verify(self.signing_key, body, headers.get("X-Timestamp", ""), headers.get("X-Signature", ""))

    def parse_event(self, event: Mapping[str, Any]) -> Inbound | DeliveryReport | None:
        """One webhook's JSON as an inbound text, a report, or None (pings, others)."""
        kind, payload = event.get("event"), event.get("payload") or {}
        if not isinstance(payload, Mapping):
            raise ValueError("payload is not an object")
        if kind == "sms:received":
            # The payload's messageId comes from the text itself (two "1"s collide);
            # the event id is unique, and the same on every retry of the event.
            return Inbound(
                self.name, f"evt-{event['id']}", str(payload["phoneNumber"]), str(payload.get("message") or "")
            )
        if kind in REPORT_STATUS:
            return DeliveryReport(
                self.name,
                str(payload["messageId"]),
                REPORT_STATUS[kind],
                error=str(payload["reason"])[:200] if payload.get("reason") else None,
                phone=str(payload.get("phoneNumber") or "") or None,
            )
        return None

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None:
        return None  # JSON webhooks: see ``parse_event``

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | None:
        return None

    # ------------------------------------------------------------------ setup

    def register_webhooks(self, url: str) -> list[tuple[str, str, str]]:
        """Register ``url`` for every event we take, on every phone (or server);
        returns (phone, event, webhook id). Registering again replaces, by id."""
        done = []
        for phone in {p.url: p for p in self.phones}.values():
            with self._client(phone) as api:
                for event in EVENTS:
                    hook = domain.Webhook(
                        id=f"outreach-{event.replace(':', '-')}",
                        url=url,
                        event=domain.WebhookEvent(event),
                        device_id=phone.device_id,
                    )
                    created = api.create_webhook(hook)
                    done.append((phone.name, event, created.id or hook.id))
        return done
