"""A small SMSC for tests: speaks SMPP 3.4 over TCP as an aggregator's would.

It answers bind_transceiver, submit_sm (with a message id per part, and joins
parts by their UDH), enquire_link and unbind; it can send a member's text
(deliver_sm, in parts when long) and delivery receipts; and it can drop the
connection, or hold its answers back, to test what a lost bind leaves behind.
PDUs are built and parsed with smpplib's own classes.
"""

from __future__ import annotations

import itertools
import socket
import socketserver
import struct
import threading
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from smpplib import consts, gsm
    from smpplib import smpp as smpp_pdu


class _Sequences:
    def __init__(self):
        self.counter = itertools.count(1)
        self.sequence = 0

    def next_sequence(self):
        self.sequence = next(self.counter)
        return self.sequence


class FakeSmsc:
    def __init__(self, system_id: str = "outreach", password: str = "secret", host: str = "127.0.0.1"):
        self.system_id, self.password = system_id, password
        self.binds = 0
        self.bound_now: set[int] = set()  # connections bound at this moment (by id)
        self.most_bound_at_once = 0
        self.submits: list[dict] = []  # every submit_sm part it accepted
        self.texts: dict[str, str] = {}  # the first part's message id -> the whole text
        self.enquire_links = 0
        self.delivered = 0  # deliver_sm the gateway has answered
        self.drop_after: int | None = None  # drop the connection after this many submits
        self.hold = False  # take submit_sm but answer nothing (a slow SMSC)
        self.refuse: int | None = None  # answer the next submit_sm with this error status, taking nothing
        self.ids = itertools.count(1)
        self.sequences = _Sequences()
        self.lock = threading.Lock()
        self.connection: socket.socket | None = None
        self._joining: dict[tuple, dict[int, bytes]] = {}
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                fake._serve(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def stop(self) -> None:
        self.drop()
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ serving

    def _serve(self, connection: socket.socket) -> None:
        self.connection = connection
        try:
            while True:
                head = self._read(connection, 4)
                if head is None:
                    return
                body = self._read(connection, struct.unpack(">L", head)[0] - 4)
                if body is None:
                    return
                pdu = smpp_pdu.parse_pdu(head + body, client=self.sequences, allow_unknown_opt_params=True)
                self._answer(connection, pdu)
        except OSError:
            return
        finally:
            with self.lock:
                self.bound_now.discard(id(connection))
            if self.connection is connection:
                self.connection = None

    @staticmethod
    def _read(connection: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _answer(self, connection: socket.socket, pdu) -> None:
        if pdu.command == "bind_transceiver":
            ok = (pdu.system_id.decode(), pdu.password.decode()) == (self.system_id, self.password)
            self.binds += ok
            if ok:
                with self.lock:
                    self.bound_now.add(id(connection))
                    self.most_bound_at_once = max(self.most_bound_at_once, len(self.bound_now))
            self._send(
                connection,
                "bind_transceiver_resp",
                pdu.sequence,
                status=0 if ok else consts.SMPP_ESME_RBINDFAIL,
                system_id="fake",
            )
        elif pdu.command == "enquire_link":
            self.enquire_links += 1
            self._send(connection, "enquire_link_resp", pdu.sequence)
        elif pdu.command == "unbind":
            self._send(connection, "unbind_resp", pdu.sequence)
        elif pdu.command == "submit_sm":
            self._submit(connection, pdu)
        elif pdu.command == "deliver_sm_resp":
            self.delivered += 1
        # enquire_link_resp: nothing to answer

    def _submit(self, connection: socket.socket, pdu) -> None:
        with self.lock:
            if self.drop_after is not None and len(self.submits) >= self.drop_after:
                self.drop_after = None
                connection.close()  # the line goes dead mid-broadcast
                raise OSError("dropped")
            if self.refuse is not None:
                status, self.refuse = self.refuse, None
                self._send(connection, "submit_sm_resp", pdu.sequence, status=status, message_id="")
                return
            message_id = f"SMSC{next(self.ids)}"
            part = {
                "id": message_id,
                "to": pdu.destination_addr.decode(),
                "data_coding": pdu.data_coding,
                "esm_class": pdu.esm_class,
                "body": pdu.short_message,
                "registered_delivery": pdu.registered_delivery,
                "at": time.monotonic(),
            }
            self.submits.append(part)
            self._join(part)
        if not self.hold:
            self._send(connection, "submit_sm_resp", pdu.sequence, message_id=message_id)

    def _join(self, part: dict) -> None:
        body, coding = part["body"], part["data_coding"]
        decode = (lambda b: b.decode("utf-16-be")) if coding == 8 else (lambda b: b.decode("latin-1"))
        if not part["esm_class"] & 0x40:
            self.texts[part["id"]] = decode(body)
            return
        header, data = body[1 : 1 + body[0]], body[1 + body[0] :]
        key = (part["to"], header[2], header[3])
        pieces = self._joining.setdefault(key, {})
        pieces[header[4]] = (part["id"], data)
        if len(pieces) == header[3]:
            ordered = [pieces[n] for n in sorted(pieces)]
            self.texts[ordered[0][0]] = decode(b"".join(data for _, data in ordered))
            del self._joining[key]

    def _send(self, connection: socket.socket, command: str, sequence: int | None = None, **fields) -> None:
        status = fields.pop("status", 0)
        pdu = smpp_pdu.make_pdu(command, client=self.sequences, **fields)
        pdu.status = status
        if sequence is not None:
            pdu.sequence = sequence
        connection.sendall(pdu.generate())

    # ------------------------------------------------------------------ towards the gateway

    def wait_bound(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while self.connection is None or not self.binds:
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway never bound")
            time.sleep(0.02)

    def deliver(self, source: str, text: str) -> None:
        """A member's text to the gateway (in UDH parts when long)."""
        parts, coding, esm_class = gsm.make_parts(text)
        for body in parts:
            self._send(
                self.connection,
                "deliver_sm",
                source_addr_ton=consts.SMPP_TON_INTL,
                source_addr=source.lstrip("+"),
                destination_addr="1234",
                short_message=body,
                data_coding=coding,
                esm_class=esm_class,
            )

    def deliver_raw(self, **fields) -> None:
        """A deliver_sm with exactly these fields, however malformed."""
        self._send(
            self.connection, "deliver_sm", **{"source_addr": "8562055550000", "destination_addr": "1234", **fields}
        )

    def receipt(self, message_id: str, stat: str = "DELIVRD") -> None:
        text = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:2611301000 done date:2611301001 stat:{stat} err:000 text:"
        )
        self._send(
            self.connection,
            "deliver_sm",
            source_addr="8562055550000",
            destination_addr="1234",
            short_message=text.encode("ascii"),
            data_coding=0,
            esm_class=0x04,
        )

    def drop(self) -> None:
        connection = self.connection
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass
