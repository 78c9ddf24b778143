"""Africa's Talking SMS and calls, posted to its HTTP API directly.

Like RapidPro's Courier, this posts the documented form to Africa's Talking
(``POST /version1/messaging``, ``POST /call``) with a ``requests`` session of its own,
rather than through the ``africastalking`` SDK: the SDK opens a new connection (and a
new TLS handshake) for every request and offers no public way to keep one, and a
member waits for each reply. ``AT_API_URL`` and ``AT_VOICE_URL`` name the hosts, so
tests point this same code at a local fake that speaks the same wire format.

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

from gateway.errors import (
    AmbiguousProviderError,
    PermanentProviderError,
    TransientProviderError,
)
from gateway.providers.base import (
    DeliveryReport,
    Inbound,
    OptOutNotice,
    Provider,
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
REPORT_STATUS = {
    "Success": "delivered",
    "Failed": "failed",
    "Rejected": "failed",
    "Expired": "failed",
    "Sent": None,
    "Submitted": None,
    "Buffered": None,
}


class _Api:
    """Africa's Talking's API for one account, over kept-alive connections.

    Sessions are lent one per request from a small stack, so concurrent requests
    (a wave of sends) never share one: a ``requests.Session`` is not documented as
    safe across threads. A forked process (RQ's work-horses, the inbox drainer)
    starts its own stack: a connection shared with the parent would interleave
    two processes' requests on one stream. Each session reads the environment's
    proxy settings once per host (``SettledSession``)."""

    def __init__(self, username: str, api_key: str):
        self.username = username
        self.headers = {"Accept": "application/json", "apiKey": api_key}
        self._idle: list[requests.Session] = []
        self._owner = os.getpid()

    def post(self, url: str, form: dict, timeout: float) -> requests.Response:
        if self._owner != os.getpid():
            self._idle, self._owner = [], os.getpid()  # the parent's sockets stay the parent's
        try:
            session = self._idle.pop()
        except IndexError:
            session = SettledSession()
        try:
            response = session.post(
                url, data={"username": self.username, **form}, headers=self.headers, timeout=(timeout, timeout)
            )
        except BaseException:
            session.close()  # its connection may be half-used: not for the next request
            raise
        self._idle.append(session)
        return response


def _json(response: requests.Response):
    """The reply's JSON, whatever content type it names; None when it is not JSON."""
    try:
        return json.loads(response.text)
    except ValueError:
        return None


class AfricasTalkingProvider(Provider):
    name = "africastalking"
    makes_recordings = True
    recipients_per_request = None  # one bulk request carries the whole batch

    def __init__(self, config):
        self.sender_id = config.at_sender_id or None
        self.timeout = config.provider_timeout_ms / 1000
        self.api = _Api(config.at_username or "sandbox", config.at_api_key or "")
        self.messaging_url = config.at_api_url.rstrip("/") + "/version1/messaging"
        self.call_url = config.at_voice_url.rstrip("/") + "/call"  # calls go to voice.africastalking.com
        self.voice_number = config.at_voice_number
        # Africa's Talking's own hosts, and the voice API host it is reached at here.
        self.media = MediaHosts.of(
            config.recording_hosts, (".africastalking.com", host_of(config.at_voice_url)), config.recording_private_ok()
        )

    def send(self, text: str, phones: Sequence[str], **options) -> list[SendOutcome]:
        form = {"to": ",".join(phones), "message": text, "bulkSMSMode": 1}
        if self.sender_id:
            form["from"] = self.sender_id
        try:
            response = self.api.post(self.messaging_url, form, self.timeout)
        except requests.RequestException as exc:
            if request_was_written(exc):
                raise AmbiguousProviderError(
                    f"africastalking: no answer ({type(exc).__name__}); may have been sent"
                ) from None
            raise TransientProviderError(f"africastalking unreachable: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:  # AT did not take it
            body = response.text[:120]
            if response.status_code in (401, 403) or "authentication" in body.lower() or "invalid" in body.lower():
                raise PermanentProviderError(f"africastalking refused the request: {body}") from None
            raise TransientProviderError(f"africastalking error: {response.status_code} {body}") from None
        reply = _json(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("SMSMessageData"), dict):
            # It answered 2xx, so it may well have sent: we cannot tell to whom.
            raise AmbiguousProviderError("africastalking sent an unreadable reply; may have been sent")
        outcomes = {}
        for recipient in reply["SMSMessageData"].get("Recipients", []):
            code = int(recipient.get("statusCode", 0))
            outcomes[recipient.get("number")] = SendOutcome(
                recipient.get("number"),
                code in ACCEPTED,
                recipient.get("messageId") or None,
                None if code in ACCEPTED else f"{code} {recipient.get('status', '')}".strip(),
                transient=code in TRANSIENT,
                opted_out=code == OPTED_OUT,
            )
        # A recipient the reply does not mention was not sent; try it again later.
        return [outcomes.get(p) or SendOutcome(p, False, error="not in reply", transient=True) for p in phones]

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        """AT voice ``/call``. When she answers, AT posts to the number's voice
        callback (``/voice/africastalking``) with the session id returned here; its
        end-of-call post (``isActive=0``) carries ``status`` and ``hangupCause``."""
        try:
            response = self.api.post(self.call_url, {"from": self.voice_number or "", "to": phone}, self.timeout)
        except requests.RequestException as exc:
            return transport_outcome(phone, "africastalking", exc)
        if not 200 <= response.status_code < 300:
            return SendOutcome(
                phone,
                False,
                error=f"africastalking: {response.status_code} {response.text[:100]}",
                transient=response.status_code >= 500,
            )
        reply = _json(response)
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
            return DeliveryReport(
                self.name,
                form["id"][:64],
                REPORT_STATUS.get(status),
                form.get("failureReason") or None,
                opted_out=form.get("failureReason") == "UserInBlacklist",
                phone=form.get("phoneNumber") or None,
            )
        if form.get("phoneNumber") and "senderId" in form:  # bulk SMS opt-out notification
            return OptOutNotice(self.name, form["phoneNumber"])
        return None
