"""Africa's Talking SMS, through the official ``africastalking`` SDK.

``AT_API_URL`` replaces the SDK's base URL, so tests point the real SDK code at a
local fake that speaks the same wire format.

Send reply: ``{"SMSMessageData": {"Recipients": [{"number", "statusCode",
"messageId", "status", "cost"}]}}``. Status codes: 100-102 accepted; 401 RiskHold,
402 InvalidSenderId, 403 InvalidPhoneNumber, 404 UnsupportedNumberType,
405 InsufficientBalance, 406 UserInBlacklist, 407 CouldNotRoute are permanent
(406 means the member opted out); 500-502 are gateway errors worth retrying.
"""

from __future__ import annotations

import json
import os
from typing import Mapping, Sequence

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from africastalking.Voice import VoiceService

from gateway.errors import (
    AmbiguousProviderError,
    PermanentProviderError,
    TransientProviderError,
)
from gateway.providers.base import (
    DeliveryReport,
    Inbound,
    OptOutNotice,
    SendOutcome,
    SettledSession,
    request_was_written,
    transport_outcome,
)
from gateway.providers.media import MediaHosts, download, host_of

ACCEPTED = {100, 101, 102}
TRANSIENT = {500, 501, 502}
OPTED_OUT = 406
# Delivery report statuses -> ours. Sent/Submitted/Buffered are on the way.
REPORT_STATUS = {"Success": "delivered", "Failed": "failed", "Rejected": "failed",
                 "Expired": "failed", "Sent": None, "Submitted": None, "Buffered": None}


class _KeptAliveSMS(SMSService):
    """The SDK's SMS service, posting over kept-alive connections.

    The SDK posts with ``requests.post``: a new connection, and a new TLS handshake
    with Africa's Talking, for every request. Replies go out a round at a time (a
    member's second reply only after her first has returned), so each handshake
    was paid in every member's wait as well as in CPU (#16). This overrides the
    SDK's private poster, name-mangled as ``_Service__make_post_request``; should a
    later SDK rename it, the SDK's own poster runs again, slower but correct.

    Sessions are lent one per request from a small stack, so concurrent requests
    (a wave of sends) never share one: a ``requests.Session`` is not documented as
    safe across threads. A forked process (RQ's work-horses, the inbox drainer)
    starts its own stack: a connection shared with the parent would interleave
    two processes' requests on one stream. Each session reads the environment's
    proxy settings once per host (``SettledSession``)."""

    def __init__(self, username: str, api_key: str):
        super().__init__(username, api_key)
        self._idle: list[requests.Session] = []
        self._owner = os.getpid()

    def _Service__make_post_request(self, url, headers, data, params, callback=None, timeout=None):
        if self._owner != os.getpid():
            self._idle, self._owner = [], os.getpid()  # the parent's sockets stay the parent's
        try:
            session = self._idle.pop()
        except IndexError:
            session = SettledSession()
        try:
            response = session.post(url=url, headers=headers, params=params, data=data, timeout=timeout)
        except BaseException:
            session.close()  # its connection may be half-used: not for the next request
            raise
        self._idle.append(session)
        if callback is None or callback == {}:
            return response
        callback(response)


class AfricasTalkingProvider:
    name = "africastalking"
    recipients_per_request = None  # one bulk request carries the whole batch

    def __init__(self, config):
        self.sender_id = config.at_sender_id or None
        self.timeout = config.provider_timeout_ms / 1000
        self.sms = _KeptAliveSMS(config.at_username or "sandbox", config.at_api_key or "")
        self.sms._baseUrl = config.at_api_url.rstrip("/") + "/version1"  # the SDK has no setter
        self.voice = VoiceService(config.at_username or "sandbox", config.at_api_key or "")
        self.voice._baseUrl = config.at_voice_url.rstrip("/")  # calls go to voice.africastalking.com
        self.voice_number = config.at_voice_number
        # Africa's Talking's own hosts, and the voice API host it is reached at here.
        self.media = MediaHosts.of(config.recording_hosts, (".africastalking.com", host_of(config.at_voice_url)),
                                   config.recording_private_ok())

    def send(self, text: str, phones: Sequence[str], **options) -> list[SendOutcome]:
        try:
            reply = self.sms.send(text, list(phones), sender_id=self.sender_id,
                                  timeout=(self.timeout, self.timeout))
        except requests.RequestException as exc:
            if request_was_written(exc):
                raise AmbiguousProviderError(
                    f"africastalking: no answer ({type(exc).__name__}); may have been sent") from None
            raise TransientProviderError(f"africastalking unreachable: {type(exc).__name__}") from None
        except AfricasTalkingException as exc:  # an HTTP error status: AT did not take it
            body = str(exc)[:120]
            if "authentication" in body.lower() or "invalid" in body.lower():
                raise PermanentProviderError(f"africastalking refused the request: {body}") from None
            raise TransientProviderError(f"africastalking error: {body}") from None
        if isinstance(reply, str):  # the SDK only decodes an exact application/json type
            try:
                reply = json.loads(reply)
            except ValueError:
                reply = None
        if not isinstance(reply, dict) or "SMSMessageData" not in reply:
            # It answered 200, so it may well have sent: we cannot tell to whom.
            raise AmbiguousProviderError("africastalking sent an unreadable reply; may have been sent")
        outcomes = {}
        for recipient in reply["SMSMessageData"].get("Recipients", []):
            code = int(recipient.get("statusCode", 0))
            outcomes[recipient.get("number")] = SendOutcome(
                recipient.get("number"), code in ACCEPTED, recipient.get("messageId") or None,
                None if code in ACCEPTED else f"{code} {recipient.get('status', '')}".strip(),
                transient=code in TRANSIENT, opted_out=code == OPTED_OUT)
        # A recipient the reply does not mention was not sent; try it again later.
        return [outcomes.get(p) or SendOutcome(p, False, error="not in reply", transient=True)
                for p in phones]

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        """AT voice ``/call``. When she answers, AT posts to the number's voice
        callback (``/voice/africastalking``) with the session id returned here; its
        end-of-call post (``isActive=0``) carries ``status`` and ``hangupCause``."""
        try:
            reply = self.voice.call(self.voice_number, [phone], timeout=(self.timeout, self.timeout))
        except requests.RequestException as exc:
            return transport_outcome(phone, "africastalking", exc)
        except (AfricasTalkingException, ValueError) as exc:
            return SendOutcome(phone, False, error=f"africastalking: {str(exc)[:100]}")
        if isinstance(reply, str):
            try:
                reply = json.loads(reply)
            except ValueError:
                reply = None
        entries = reply.get("entries") if isinstance(reply, dict) else None
        if not entries:
            error = (reply or {}).get("errorMessage") if isinstance(reply, dict) else "unreadable reply"
            return SendOutcome(phone, False, error=f"africastalking: {error}", transient=True)
        entry = entries[0]
        if entry.get("status") != "Queued" or not entry.get("sessionId"):
            return SendOutcome(phone, False, error=f"africastalking: {entry.get('status')}")
        return SendOutcome(phone, True, entry["sessionId"][:64])

    def fetch_recording(self, url: str) -> bytes:
        """A ``recordingUrl`` from a ``<Record>`` callback (an MP3, served without auth)."""
        return download(url, self.timeout, self.media)

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None:
        if not form.get("id") or not form.get("from"):
            return None
        return Inbound(self.name, form["id"][:64], form["from"], form.get("text", ""))

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | OptOutNotice | None:
        if form.get("id"):
            status = form.get("status", "")
            return DeliveryReport(self.name, form["id"][:64], REPORT_STATUS.get(status),
                                  form.get("failureReason") or None,
                                  opted_out=form.get("failureReason") == "UserInBlacklist",
                                  phone=form.get("phoneNumber") or None)
        if form.get("phoneNumber") and "senderId" in form:  # bulk SMS opt-out notification
            return OptOutNotice(self.name, form["phoneNumber"])
        return None
