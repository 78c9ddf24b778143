"""A member's phone, as the tests hold it: USSD dialled and texts sent through the
webhooks exactly as Africa's Talking posts them (the simulator in ``outreach
simulate`` does the same for a person; the tests keep their own, so that they
test the webhooks, not the command)."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from gateway.runtime import runtime_of
from gateway.store import members
from gateway.store.models import OutboundMessage

from .fakes import drain

_sessions = itertools.count(1)


class Phone:
    """Dials ``/ussd/africastalking``: a new session id per dial, the whole input so far in ``text``."""

    def __init__(self, client, phone: str, service_code: str, token: str):
        self.client, self.phone, self.service_code = client, phone, service_code
        self.url = "/ussd/africastalking" + (f"?token={token}" if token else "")
        self.session_id = self.text = ""

    def dial(self) -> str:
        self.session_id, self.text = f"ATUid_test{next(_sessions):08d}", ""
        return self._post()

    def press(self, typed: str) -> str:
        self.text = typed if self.text == "" else f"{self.text}*{typed}"
        return self._post()

    def _post(self) -> str:
        return self.client.post(
            self.url,
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.phone,
                "networkCode": "45701",
                "text": self.text,
            },
        ).get_data(as_text=True)


class Texter:
    """Texts ``/sms/africastalking``, then lets the inbox and a real RQ worker run,
    and returns the texts that came back to her."""

    def __init__(self, app, phone: str, token: str):
        self.app, self.client, self.phone = app, app.test_client(), phone
        self.url = "/sms/africastalking" + (f"?token={token}" if token else "")
        self.ids = itertools.count(1)

    def send(self, text: str) -> list[str]:
        db = runtime_of(self.app).db
        with db.session() as session:
            last = session.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()).limit(1)) or 0
        self.client.post(
            self.url,
            data={
                "from": self.phone,
                "to": "20880",
                "text": text,
                "date": "",
                "id": f"texter-{self.phone}-{next(self.ids)}",
                "linkId": "",
            },
        )
        drain(self.app)
        with db.session() as session:
            member = members.by_phone(session, self.phone)
            if member is None:
                return []
            return list(
                session.scalars(
                    select(OutboundMessage.body)
                    .where(OutboundMessage.member_id == member.id, OutboundMessage.id > last)
                    .order_by(OutboundMessage.id)
                )
            )
