"""Small helpers shared by tests (setting up members and sessions through the store)."""

from __future__ import annotations

import itertools
import re
import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from twilio.request_validator import RequestValidator

from gateway.runtime import runtime_of
from gateway.outage import is_outage
from gateway.store import members, schedule
from gateway.store.models import Member

from .fakes import FakeTwilio


def wait_until(check, timeout_s: float = 10.0, what="", every_s: float = 0.02):
    """Ask ``check`` until it answers something true, and return that; fail the test
    saying ``what`` did not happen once ``timeout_s`` has passed (``what`` may be a
    function, asked then: a log's last lines). Tests wait for an event this way
    instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout_s} s: {said or check}")
        time.sleep(every_s)


PASSWORD = "correct horse battery"  # the dashboard accounts' (the ``people`` fixture)


def form_token(page: bytes) -> str:
    """The CSRF token in a dashboard page's forms."""
    return re.search(rb'name="csrf" value="([^"]+)"', page)[1].decode()


def switch_language(client, lang: str, next_page: str = "/login") -> None:
    """Press the page's language button (a POST with the session's CSRF token)."""
    token = form_token(client.get("/login").data)
    client.post(f"/language/{lang}", data={"csrf": token, "next": next_page})


PHONE = "+8562055520001"
_ids = itertools.count(1)


def add_member(
    db,
    phone: str,
    *,
    name: str = "Noy",
    language: str = "lo",
    topics=("nutrition",),
    province: str = "savannakhet",
    registered: bool = True,
) -> Member:
    member = Member(
        phone=phone,
        name=name,
        language=language,
        province=province,
        consent_at=datetime.now(timezone.utc) if registered else None,
    )
    db.add(member)
    members.set_topics(member, topics)
    db.flush()
    return member


def add_session(
    db,
    *,
    topic: str = "nutrition",
    language: str = "lo",
    starts: str = "2030-01-11 14:00",
    capacity: int | None = None,
    title_lo: str = "ໂພຊະນາການແມ່ ແລະ ເດັກ",
    title_en: str = "Feeding mothers and babies",
    kind: str = "hangout",
    cancelled: bool = False,
):
    row = schedule.add(
        db,
        {
            "titles": {"lo": title_lo, "en": title_en},
            "kind": kind,
            "topic": topic,
            "language": language,
            "starts_at": datetime.fromisoformat(starts).replace(tzinfo=ZoneInfo("Asia/Vientiane")),
            "duration_minutes": 60,
            "capacity": capacity,
            "place": None,
            "join_link": "meet.jit.si/nutrition",
            "dial_in": None,
        },
    )
    if cancelled:
        row.cancelled_at = datetime.now(timezone.utc)
    db.flush()
    return row


def walk(phone, *inputs: str) -> list[str]:
    """Dial, then press each input; return every reply."""
    replies = [phone.dial()]
    for typed in inputs:
        replies.append(phone.press(typed))
    return replies


def body(reply: str) -> str:
    return reply.split(" ", 1)[1]


def processed(client, response):
    """Process what the webhook accepted, through the real ``Inbox.drain``, as the
    worker's drainer would a moment later (after its turn, if one is draining), so a
    test can look at the outcome as a member would."""
    try:
        runtime_of(client.application).inbox.drain(wait=True)
    except Exception as exc:
        if not is_outage(exc):
            raise  # during an outage the text waits in the inbox, as it would in production
    return response


def at_webhook(client, text, phone=PHONE, message_id=None, token=None):
    """An inbound SMS as Africa's Talking posts it: the webhook alone, with nothing
    drained, so that several texts can wait to be processed in one batch."""
    url = "/sms/africastalking" + (f"?token={token}" if token else "")
    return client.post(
        url,
        data={
            "from": phone,
            "to": "20880",
            "text": text,
            "date": "2026-11-21 10:00:00",
            "id": message_id or f"at-{next(_ids)}",
            "linkId": "link-1",
        },
    )


def at_text(client, text, phone=PHONE, message_id=None, token=None):
    """An inbound SMS as Africa's Talking posts it, processed."""
    return processed(client, at_webhook(client, text, phone, message_id, token))


def twilio_post(client, path, form, token="tw-secret", base="https://gw.example.org", sign=True):
    """A Twilio callback, signed as Twilio signs it (unless ``sign`` is False)."""
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(base + path, form)
    response = client.post(path, data=form, headers=headers)
    return processed(client, response) if path.startswith("/sms/") else response


def tw_text(client, text, phone=PHONE, sid=None):
    """An inbound SMS as Twilio posts it."""
    form = {
        "From": phone,
        "To": "+15005550006",
        "Body": text,
        "MessageSid": sid or f"SMin{next(_ids)}",
        "NumSegments": "1",
        "AccountSid": FakeTwilio.SID,
    }
    return twilio_post(client, "/sms/twilio", form)


def smpp_settings(port: int, **overrides) -> dict:
    """An app's settings for SMPP to an SMSC (or Jasmin) on this machine's ``port``."""
    return {
        "sms_provider": "smpp",
        "smpp_host": "127.0.0.1",
        "smpp_port": port,
        "smpp_system_id": "outreach",
        "smpp_password": "secret",
        "smpp_source": "OUTREACH",
        "smpp_enquire_s": 1,
        "smpp_tps": 50,
        "smpp_window": 6,
        **overrides,
    }


class LinkThread:
    """``app``'s SMPP link, running in a thread as ``outreach smpp`` runs it."""

    def __init__(self, app):
        from gateway.providers.smpp.link import SmppLink

        parts = runtime_of(app)
        self.link = SmppLink(parts.services, parts.inbox, parts.spool)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.link.run, args=(self._stop,), daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)


def shared_secret(database_url: str, name: str = "webhook_token") -> str:
    """The deployment's secret as every host reads it (``store/secrets.py``)."""
    from sqlalchemy import select

    from gateway.store.database import Database
    from gateway.store.models import DeploymentSecret

    database = Database(database_url)
    try:
        with database.session() as db:
            return db.scalar(select(DeploymentSecret.value).where(DeploymentSecret.name == name))
    finally:
        database.dispose()
