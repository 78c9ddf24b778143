"""Local fake providers that speak the real wire formats, so the official SDKs'
own request code runs in tests. Each fake follows a script of behaviours."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from gateway import services
from gateway.broker import QUEUES
from gateway.runtime import runtime_of


# How long the gateway waits for a fake provider in tests, and how late a "timeout"
# answers. Wide apart: with CI's two passes side by side on two cores, an ordinary
# answer once took more than the 400 ms the tests used to wait, and read as a
# timeout ("unknown" where a retry was due).
PROVIDER_TIMEOUT_MS = 1000
LATE_ANSWER_S = 2.5


class ScriptedFake:
    """A provider endpoint that follows a script: one behaviour per request, then "ok"."""

    path = ""
    sends_on_timeout = False  # SMS fakes: a "timeout" was sent all the same

    def __init__(self, server):
        self.server = server
        self.requests: list[dict] = []  # the requests the provider accepted
        self.taken: list[tuple[str, str]] = []  # (number, text) it took to send: not refused, not lost
        self.script: list[str] = []
        self.delay = 0.0  # seconds every request takes (to catch a worker mid-broadcast)
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        server.expect_request(self.path, method="POST").respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def next_request(self, request) -> tuple[dict, str]:
        """(form, behaviour). A "timeout" is a slow provider: it takes the message and
        sends it, but answers only after the client has given up, so the sender cannot
        know it was sent (as with a real read timeout)."""
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        with self.lock:
            behaviour = self.script.pop(0) if self.script else "ok"
        time.sleep(self.delay)
        if behaviour == "timeout":
            if self.sends_on_timeout:  # taken as it arrived; only the answer is late
                self.requests.append(form)
            time.sleep(LATE_ANSWER_S)
        return form, behaviour

    def handle(self, request):
        raise NotImplementedError


class FakeAfricasTalking(ScriptedFake):
    """``POST /version1/messaging`` as Africa's Talking answers it.
    Script words: ok | 500 | timeout | 406 | 403."""

    path = "/version1/messaging"
    sends_on_timeout = True

    def handle(self, request):
        form, behaviour = self.next_request(request)
        if behaviour == "500":
            return Response("Internal Server Error", 500)
        if behaviour != "timeout":
            self.requests.append(form)
        code, status = {
            "ok": (101, "Success"),
            "timeout": (101, "Success"),
            "406": (406, "UserInBlacklist"),
            "403": (403, "InvalidPhoneNumber"),
        }[behaviour]
        if code == 101:
            self.taken += [(number, form["message"]) for number in form["to"].split(",")]
        recipients = [
            {
                "statusCode": code,
                "number": number,
                "status": status,
                "cost": "USD 0.0200" if code == 101 else "0",
                "messageId": f"ATXid_{next(self.ids)}" if code == 101 else "None",
            }
            for number in form["to"].split(",")
        ]
        body = {"SMSMessageData": {"Message": f"Sent to {len(recipients)}/{len(recipients)}", "Recipients": recipients}}
        return Response(json.dumps(body), 201, content_type="application/json")


class FakeTwilio(ScriptedFake):
    """``POST /2010-04-01/Accounts/{sid}/Messages.json`` as Twilio answers it.
    Script words: ok | 500 | timeout | 21610 | 21211."""

    SID = "AC" + "1" * 32
    path = f"/2010-04-01/Accounts/{SID}/Messages.json"
    ERRORS = {"21610": "Attempt to send to unsubscribed recipient", "21211": "Invalid 'To' Phone Number"}

    sends_on_timeout = True

    def handle(self, request):
        form, behaviour = self.next_request(request)
        if behaviour == "500":
            return Response(
                json.dumps({"code": 20500, "message": "Internal Server Error", "status": 500}),
                500,
                content_type="application/json",
            )
        if behaviour != "timeout":
            self.requests.append(form)
        if behaviour in self.ERRORS:
            return Response(
                json.dumps(
                    {
                        "code": int(behaviour),
                        "message": self.ERRORS[behaviour],
                        "more_info": f"https://www.twilio.com/docs/errors/{behaviour}",
                        "status": 400,
                    }
                ),
                400,
                content_type="application/json",
            )
        sid = f"SM{next(self.ids):032d}"
        self.taken.append((form["To"], form["Body"]))
        return Response(
            json.dumps(
                {
                    "sid": sid,
                    "status": "queued",
                    "to": form["To"],
                    "body": form["Body"],
                    "account_sid": self.SID,
                    "num_segments": "1",
                    "direction": "outbound-api",
                }
            ),
            201,
            content_type="application/json",
        )


class FakeTwilioCalls(ScriptedFake):
    """``POST /2010-04-01/Accounts/{sid}/Calls.json`` as Twilio answers it (script: ok | 500)."""

    path = f"/2010-04-01/Accounts/{FakeTwilio.SID}/Calls.json"

    def handle(self, request):
        form, behaviour = self.next_request(request)
        if behaviour in ("500", "timeout"):
            return Response(
                json.dumps({"code": 20500, "message": "Internal Server Error", "status": 500}),
                500,
                content_type="application/json",
            )
        self.requests.append(form)
        sid = f"CA{next(self.ids):032d}"
        return Response(
            json.dumps(
                {
                    "sid": sid,
                    "status": "queued",
                    "to": form["To"],
                    "from": form["From"],
                    "account_sid": FakeTwilio.SID,
                    "direction": "outbound-api",
                }
            ),
            201,
            content_type="application/json",
        )


class FakeAfricasTalkingVoice(ScriptedFake):
    """``POST /call`` on AT's voice host, as it answers (script: ok | 500 | invalid)."""

    path = "/call"

    def handle(self, request):
        form, behaviour = self.next_request(request)
        if behaviour in ("500", "timeout"):
            return Response("Internal Server Error", 500)
        self.requests.append(form)
        if behaviour == "invalid":
            body = {"entries": [{"phoneNumber": form["to"], "status": "InvalidPhoneNumber"}], "errorMessage": "None"}
        else:
            body = {
                "entries": [
                    {"phoneNumber": number, "status": "Queued", "sessionId": f"ATVId_{next(self.ids):032x}"}
                    for number in form["to"].split(",")
                ],
                "errorMessage": "None",
            }
        return Response(json.dumps(body), 200, content_type="application/json")


def drain(app) -> int:
    """Process the texts waiting in the inbox, then run every queued job in this
    process with a real RQ worker; return how many jobs ran."""
    from rq import SimpleWorker

    services.bind(runtime_of(app).services)
    runtime_of(app).inbox.drain(wait=True)  # texts accepted and not yet processed, first
    queues = [runtime_of(app).queues[name] for name in QUEUES]
    before = sum(q.count for q in queues)
    SimpleWorker(queues, connection=runtime_of(app).redis).work(burst=True)
    return before


class KeptAliveHandler(BaseHTTPRequestHandler):
    """A quiet ``http.server`` handler that keeps connections alive, as real APIs do
    (werkzeug's server, behind the scripted fakes, closes every connection)."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # The head and the body go out in two writes: on a kept-alive connection, Nagle's
        # algorithm held the body back until the client's delayed ACK (40 ms a request).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}

    def answer_json(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def at_sent(numbers: list[str], message_ids) -> dict:
    """Africa's Talking's answer to a send that every recipient passed (statusCode 101)."""
    return {
        "SMSMessageData": {
            "Message": f"Sent to {len(numbers)}/{len(numbers)}",
            "Recipients": [
                {
                    "statusCode": 101,
                    "number": number,
                    "status": "Success",
                    "cost": "USD 0.0200",
                    "messageId": message_id,
                }
                for number, message_id in zip(numbers, message_ids)
            ],
        }
    }


class KeptAliveAfricasTalking:
    """Africa's Talking's ``POST /version1/messaging`` over kept-alive connections.
    Records the client port of each request, so a test can tell a reused
    connection from a new one, and the path asked for (an absolute URL when it
    is a client's proxy); ``slow`` makes the next request answer after ``slow``
    seconds."""

    def __init__(self):
        fake = self
        self.ports: list[int] = []
        self.paths: list[str] = []
        self.slow = 0.0

        class Handler(KeptAliveHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                fake.ports.append(self.client_address[1])
                fake.paths.append(self.path)
                numbers = self.form()["to"].split(",")
                delay, fake.slow = fake.slow, 0.0
                time.sleep(delay)
                self.answer_json(201, at_sent(numbers, (f"ATXid_{len(fake.ports)}_{n}" for n in range(len(numbers)))))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a client that gave up on a slow answer
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
