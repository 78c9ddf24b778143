"""Twilio SMS, through the official ``twilio`` SDK.

``TWILIO_API_URL`` replaces the SDK's API base URL, so tests run the real SDK
against a local fake. Error 21610 means the recipient replied STOP to Twilio:
mark the member opted out and never retry. 429 and 5xx are worth retrying;
other 4xx are permanent.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Sequence

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from gateway.providers.base import (
    DeliveryReport,
    Inbound,
    Provider,
    SendOutcome,
    environment_settings,
    transport_outcome,
)
from gateway.providers.media import MediaHosts, download, host_of

OPTED_OUT_CODES = {21610}
REPORT_STATUS = {
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "sent": "sent",
    "queued": None,
    "accepted": None,
    "sending": None,
}


class TwilioProvider(Provider):
    name = "twilio"
    makes_recordings = True
    recipients_per_request = 1  # Twilio has no bulk send: each recipient is a request

    def __init__(self, config):
        # The SDK's session reads the environment on every request unless told
        # what it says: read once here (``environment_settings``).
        settings = environment_settings(config.twilio_api_url)
        http = TwilioHttpClient(timeout=config.provider_timeout_ms / 1000, proxy=settings["proxies"] or None)
        http.session.trust_env, http.session.verify = False, settings["verify"]
        self.client = Client(
            config.twilio_account_sid or "AC" + "0" * 32, config.twilio_auth_token or "unset", http_client=http
        )
        self.client.api.base_url = config.twilio_api_url.rstrip("/")
        self.sender = (
            {"messaging_service_sid": config.twilio_messaging_service_sid}
            if config.twilio_messaging_service_sid
            else {"from_": config.twilio_from}
        )
        self.caller_id = config.twilio_from  # a voice-capable number (a messaging service cannot call)
        self.auth = (config.twilio_account_sid, config.twilio_auth_token)
        self.timeout = config.provider_timeout_ms / 1000
        # Twilio's own media hosts, and the API host it is reached at here.
        self.media = MediaHosts.of(
            config.recording_hosts, (".twilio.com", host_of(config.twilio_api_url)), config.recording_private_ok()
        )
        self.concurrency = max(1, config.send_concurrency)
        base = config.public_base_url.rstrip("/")
        self.status_callback = f"{base}/status/twilio" if base else None

    def fetch_recording(self, url: str) -> bytes:
        """A ``RecordingUrl`` as WAV. Twilio serves it with the account's credentials
        (needed when "HTTP auth on media URLs" is on; harmless when off), and may
        answer 404 for a moment after the call posts it."""
        wav = url if url.endswith((".wav", ".mp3")) else url + ".wav"
        return download(wav, self.timeout, self.media, auth=self.auth)

    def send(self, text: str, phones: Sequence[str], **options) -> list[SendOutcome]:
        """One request per recipient (Twilio has no bulk send), a bounded number at once."""
        if len(phones) <= 1:
            return [self._send_one(text, phone) for phone in phones]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(phones))) as pool:
            return list(pool.map(lambda phone: self._send_one(text, phone), phones))

    def _send_one(self, text: str, phone: str) -> SendOutcome:
        extra = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self.client.messages.create(to=phone, body=text, **self.sender, **extra)
        except requests.RequestException as exc:
            return transport_outcome(phone, "twilio", exc)
        except TwilioRestException as exc:
            transient = exc.status == 429 or exc.status >= 500  # it answered: not taken
            return SendOutcome(
                phone,
                False,
                error=f"{exc.code or exc.status}",
                transient=transient,
                opted_out=exc.code in OPTED_OUT_CODES,
            )
        return SendOutcome(phone, True, message.sid)

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        """Twilio Calls API; its final status (completed, busy, no-answer, failed)
        comes to ``status_url``."""
        try:
            placed = self.client.calls.create(
                to=phone,
                from_=self.caller_id,
                url=answer_url,
                method="POST",
                status_callback=status_url,
                status_callback_method="POST",
            )
        except requests.RequestException as exc:
            return transport_outcome(phone, "twilio", exc)
        except TwilioRestException as exc:
            return SendOutcome(
                phone, False, error=f"{exc.code or exc.status}", transient=exc.status == 429 or exc.status >= 500
            )
        return SendOutcome(phone, True, placed.sid)

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None:
        if not form.get("MessageSid") or not form.get("From"):
            return None
        return Inbound(self.name, form["MessageSid"][:64], form["From"], form.get("Body", ""))

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | None:
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sid:
            return None
        code = form.get("ErrorCode") or None
        opted_out = bool(code and code.isdigit() and int(code) in OPTED_OUT_CODES)
        return DeliveryReport(
            self.name,
            sid[:64],
            REPORT_STATUS.get(form.get("MessageStatus", "")),
            code,
            opted_out=opted_out,
            phone=form.get("To") or None,
        )
