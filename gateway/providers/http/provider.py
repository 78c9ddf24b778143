"""A generic HTTP aggregator (``SMS_PROVIDER=http``), in the spirit of RapidPro's
"External API" channel: a local aggregator's API connected by configuration alone.

``HTTP_AGGREGATOR_CONFIG`` names a YAML file that says what the aggregator calls
its fields, how it wants a text sent, and how it wants a USSD reply; see
``docs/connecting-in-laos.md`` for a full example. Everything is optional but
``send.url`` (to send) and the field names the aggregator does not share with the
defaults::

    token: "a-long-secret"          # webhooks carry ?token=… or an X-Token header
    sms:
      inbound: {from: msisdn, text: message, id: messageId}   # POST /sms/http
      send:
        url: https://aggregator.example/api/sms
        method: POST
        content_type: json          # json | form
        body: {to: "{to}", text: "{text}", ref: "{id}"}
        headers: {Authorization: "Bearer …"}
        message_id: data.id         # where its answer holds its id (dots for nesting)
    ussd:                           # POST /ussd/http
      session: sessionId
      phone: msisdn
      text: input
      text_is: latest               # latest (only the new input) | cumulative (1*2*Noy)
      hop_id: requestId             # with "latest": what tells a retransmission apart
      reply: {as: json, text: message, flag: action, continue: CON, end: END}
    # under sms: delivery reports, POST /status/http
    #   report: {id: messageId, status: status, delivered: [DELIVRD], failed: [UNDELIV, REJECTD]}

Webhook bodies may be form fields or JSON; a field name with dots reaches into
nested JSON (``message.text``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

import requests
import yaml

from gateway.errors import ConfigError
from gateway.providers.base import DeliveryReport, Inbound, Provider, SendOutcome, SettledSession, transport_outcome


@dataclass(frozen=True)
class UssdReplyShape:
    kind: str = "text"  # text: "CON …"/"END …" as text/plain; json or form: fields
    text: str = "message"
    flag: str = "action"
    continue_value: Any = "CON"
    end_value: Any = "END"

    def render(self, reply: str) -> tuple[str, str]:
        """(body, content type) for a ``CON …``/``END …`` reply."""
        if self.kind == "text":
            return reply, "text/plain"
        ends = reply.startswith("END")
        fields = {self.text: reply[4:], self.flag: self.end_value if ends else self.continue_value}
        if self.kind == "json":
            return json.dumps(fields, ensure_ascii=False), "application/json"
        return urlencode(fields), "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class AggregatorShape:
    """The aggregator, as its YAML file describes it."""

    token: str = ""
    inbound: Mapping[str, str] = field(default_factory=lambda: {"from": "from", "text": "text", "id": "id"})
    send: Mapping[str, Any] = field(default_factory=dict)
    ussd: Mapping[str, Any] = field(default_factory=dict)
    report: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> "AggregatorShape":
        if not path:
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", f"{path} must be a YAML mapping")
        sms = data.get("sms") or {}
        send = dict(sms.get("send") or {})
        if send and not str(send.get("url", "")).startswith(("http://", "https://")):
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", f"{path}: sms.send.url must be an http(s) URL")
        if send.get("content_type", "json") not in ("json", "form"):
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", f"{path}: sms.send.content_type is json or form")
        ussd = dict(data.get("ussd") or {})
        if ussd.get("text_is", "cumulative") not in ("cumulative", "latest"):
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", f"{path}: ussd.text_is is latest or cumulative")
        if (ussd.get("reply") or {}).get("as", "text") not in ("text", "json", "form"):
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", f"{path}: ussd.reply.as is text, json or form")
        token = str(data.get("token") or "")
        if len(token) < 16:  # without it anyone could post as the aggregator
            raise ConfigError(
                "HTTP_AGGREGATOR_CONFIG",
                f"{path}: needs token: with 16 or more characters, which the aggregator sends as ?token=… or X-Token",
            )
        inbound = {"from": "from", "text": "text", "id": "id", **(sms.get("inbound") or {})}
        report = dict(sms.get("report") or {})
        for word in ("delivered", "failed"):
            if not isinstance(report.get(word, []), list):
                raise ConfigError(
                    "HTTP_AGGREGATOR_CONFIG",
                    f"{path}: sms.report.{word} is a list of the aggregator's words for it, like [DELIVRD, delivered]",
                )
        return cls(token, inbound, send, ussd, report)

    def ussd_field(self, name: str, default: str) -> str:
        return str(self.ussd.get(name) or default)

    @property
    def ussd_reply(self) -> UssdReplyShape:
        spec = self.ussd.get("reply") or {}
        return UssdReplyShape(
            spec.get("as", "text"),
            spec.get("text", "message"),
            spec.get("flag", "action"),
            spec.get("continue", "CON"),
            spec.get("end", "END"),
        )


def pick(data: Mapping[str, Any], path: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; None where anything is missing."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """The body template with ``{to}``, ``{text}``, ``{id}`` filled in (in strings only,
    so a text with braces or quotes cannot break the JSON)."""
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, Mapping):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, values) for value in template]
    return template


class HttpProvider(Provider):
    name = "http"
    recipients_per_request = 1

    def __init__(self, config):
        self.shape = AggregatorShape.load(config.http_aggregator_config)
        if config.sms_provider == "http" and not self.shape.send:
            raise ConfigError("HTTP_AGGREGATOR_CONFIG", "SMS_PROVIDER=http needs a file with sms.send.url")
        self.timeout_s = config.provider_timeout_ms / 1000
        self.session = SettledSession()

    def send(
        self, text: str, phones: Sequence[str], *, ids: Sequence[str] | None = None, **options
    ) -> list[SendOutcome]:
        ids = list(ids) if ids is not None else [""] * len(phones)
        return [self._send_one(text, phone, message_id) for phone, message_id in zip(phones, ids, strict=True)]

    def _send_one(self, text: str, phone: str, message_id: str) -> SendOutcome:
        spec = self.shape.send
        body = fill(
            spec.get("body") or {"to": "{to}", "text": "{text}"}, {"to": phone, "text": text, "id": message_id or ""}
        )
        headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
        as_json = spec.get("content_type", "json") == "json"
        try:
            response = self.session.request(
                str(spec.get("method", "POST")).upper(),
                spec["url"],
                headers=headers,
                timeout=self.timeout_s,
                **({"json": body} if as_json else {"data": body}),
            )
        except requests.RequestException as exc:
            return transport_outcome(phone, "http aggregator", exc)
        if response.status_code in (spec.get("ok_statuses") or range(200, 300)):
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            found = pick(answer, spec["message_id"]) if spec.get("message_id") and isinstance(answer, Mapping) else None
            return SendOutcome(phone, True, str(found) if found is not None else (message_id or None))
        transient = response.status_code == 429 or response.status_code >= 500
        return SendOutcome(phone, False, error=f"http aggregator: HTTP {response.status_code}", transient=transient)

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        return SendOutcome(phone, False, error="the HTTP aggregator places no calls")

    def parse_inbound(self, data: Mapping[str, Any]) -> Inbound | None:
        names = self.shape.inbound
        phone, text, message_id = (pick(data, names["from"]), pick(data, names["text"]), pick(data, names["id"]))
        if not phone or message_id in (None, ""):
            return None
        return Inbound(self.name, str(message_id)[:200], str(phone), str(text or ""))

    def parse_report(self, data: Mapping[str, Any]) -> DeliveryReport | None:
        """A delivery report (``POST /status/http``), its fields and words as
        ``sms.report`` says; a word it lists under neither is a step on the way (None)."""
        spec = self.shape.report
        message_id, word = pick(data, spec.get("id", "id")), pick(data, spec.get("status", "status"))
        if message_id in (None, "") or word is None:
            return None
        status = (
            "delivered"
            if str(word) in map(str, spec.get("delivered", ["delivered"]))
            else "failed"
            if str(word) in map(str, spec.get("failed", ["failed"]))
            else None
        )
        return DeliveryReport(self.name, str(message_id)[:64], status)
