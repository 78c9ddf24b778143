"""A fake SMS Gateway for Android phone (or server holding several phones): the
app's HTTP API as the official client reaches it, and its webhooks, signed the way
the app signs them (computed here on its own, not with the gateway's code).

It keeps what a real phone would: each text once per client ``id`` (a retry with
the same id is answered but not sent again), refuses more than Android allows in a
minute (HTTP 429), and counts any text sent over the planned rate. Time can be
scaled (``window_s``): the benchmark runs a "minute" in one second.
Script words per request: ok | 500 | 429 | 400 (refused for good) | timeout (sent, answer late).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict, deque

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ANDROID_REFUSES_OVER = 30  # texts a minute from one app


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # a benchmark sends thousands
        pass


class FakeAndroidPhone:
    def __init__(
        self,
        username: str = "sms",
        password: str = "secret",
        signing_key: str = "sign-key",
        planned_rate: int = 20,
        window_s: float = 60.0,
    ):
        self.username, self.password, self.signing_key = username, password, signing_key
        self.planned_rate, self.window_s = planned_rate, window_s
        self.sent: list[dict] = []  # every text it sent, with its device and time
        self.by_id: dict[str, dict] = {}
        self.refused_repeats = 0  # requests whose id it had already sent
        self.over_plan = 0  # texts sent beyond the planned rate in a window (should stay 0)
        self.script: list[str] = []
        self.webhooks: list[dict] = []
        self.recent: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ the API

    @Request.application
    def _app(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._json({"message": "Unauthorized"}, 401)
        if request.method == "POST" and request.path in ("/messages", "/message"):
            return self._message(request.get_json(force=True, silent=True) or {})
        if request.method == "POST" and request.path == "/webhooks":
            hook = request.get_json(force=True)
            with self.lock:
                self.webhooks = [h for h in self.webhooks if h.get("id") != hook.get("id")] + [hook]
            return self._json(hook, 201)
        return self._json({"message": "Not Found"}, 404)

    def _message(self, body: dict) -> Response:
        with self.lock:
            behaviour = self.script.pop(0) if self.script else "ok"
        if behaviour in ("500", "429"):
            return self._json({"message": "try later"}, int(behaviour))
        if behaviour == "400":
            return self._json({"message": "invalid phone number"}, 400)
        message_id = body.get("id") or f"fake-{next(self.ids)}"
        device = body.get("deviceId") or "local"
        with self.lock:
            if message_id in self.by_id:  # the app keeps one message per id
                self.refused_repeats += 1
                return self._json(self._state(self.by_id[message_id]), 202)
            now = time.monotonic()
            recent = self.recent[device]
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            if len(recent) >= ANDROID_REFUSES_OVER:
                return self._json({"message": "too many messages"}, 429)
            if len(recent) >= self.planned_rate:
                self.over_plan += 1
            recent.append(now)
            record = {
                "id": message_id,
                "device": device,
                "to": body["phoneNumbers"],
                "text": body["textMessage"]["text"],
                "priority": body.get("priority", 0),
                "ttl": body.get("ttl"),
                "at": now,
            }
            self.sent.append(record)
            self.by_id[message_id] = record
        if behaviour == "timeout":
            time.sleep(1.5)  # sent; only the answer comes after the client gave up
        return self._json(self._state(record), 202)

    @staticmethod
    def _state(record: dict) -> dict:
        return {
            "id": record["id"],
            "state": "Pending",
            "isHashed": False,
            "isEncrypted": False,
            "deviceId": None if record["device"] == "local" else record["device"],
            "recipients": [{"phoneNumber": n, "state": "Pending"} for n in record["to"]],
        }

    @staticmethod
    def _json(data, status: int) -> Response:
        return Response(json.dumps(data), status, content_type="application/json")

    # ------------------------------------------------------------------ webhooks

    def event(
        self, event: str, payload: dict, event_id: str | None = None, device: str = "fake-device"
    ) -> tuple[bytes, dict]:
        """A webhook as the app sends it: (raw body, headers), signed with its key."""
        body = json.dumps(
            {
                "deviceId": device,
                "event": event,
                "id": event_id or uuid.uuid4().hex,
                "payload": payload,
                "webhookId": f"outreach-{event.replace(':', '-')}",
            },
            ensure_ascii=False,
        ).encode("utf-8")
        return body, self.signed(body)

    def signed(self, body: bytes) -> dict:
        """The headers the app sends with ``body``: a fresh timestamp and its signature."""
        timestamp = str(int(time.time()))
        signature = hmac.new(self.signing_key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": signature}

    def post(self, client, event: str, payload: dict, **options):
        """Deliver an event to the gateway: ``client`` is a Flask test client, or a
        base URL of a running gateway."""
        body, headers = self.event(event, payload, **options)
        if isinstance(client, str):
            return requests.post(f"{client}/sms/android", data=body, headers=headers, timeout=10)
        from .helpers import processed

        return processed(client, client.post("/sms/android", data=body, headers=headers))
