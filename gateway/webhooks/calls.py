"""A call's next words, whichever voice provider asks (``POST /voice/<provider>``).

Each provider's route reads its own form and writes its own XML; what to say comes
from here: the member's menu, the phone studio (record-by-phone) and the missed-call
call-back. Every answer is valid XML for the provider, whatever was posted: a bad
request or our own error gets a polite goodbye, never a 500 (the provider would
read out an error message in English to a Lao caller).
"""

from __future__ import annotations

import functools
import logging
from typing import Callable

from flask import Response, current_app, request
from rq import Retry

from gateway import broker
from gateway.channels.voice.service import CallStep
from gateway.channels.voice.studio import Target
from gateway.content.prompt_audit import audit as prompt_audit
from gateway.messaging import calls as outbound_calls
from gateway.phone import to_e164
from gateway.runtime import runtime
from gateway.store import audit, live_texts

log = logging.getLogger(__name__)


def xml(body: str, status: int = 200) -> Response:
    return Response(body, status, mimetype="text/xml")


def base() -> str:
    """Where providers reach us: PUBLIC_BASE_URL, or the address this request came to."""
    config = current_app.config["GATEWAY"]
    return config.public_base_url.rstrip("/") or request.host_url.rstrip("/")


def audio_url(lang: str, key: str) -> str | None:
    name = runtime().audio.file(lang, key)
    return f"{base()}/audio/{lang}/{name}" if name else None


def ended(provider: str, call_id: str) -> None:
    """The call is over: its menu and any studio session are let go."""
    runtime().calls.hang_up(provider, call_id)
    runtime().studio.end(provider, call_id)


def studio_step(provider: str, call_id: str, digits: str, recording: str, caller: str):
    """A CallStep when this is (or now becomes) a record-by-phone call, else None.
    A caller becomes one by pressing * (the first menu takes one key) when
    STUDIO_PIN is set (and STUDIO_PHONES, if set, lists her number); the PIN is
    asked before anything else."""
    studio = runtime().studio
    phone = to_e164(caller) or ""
    if not studio.enabled or not call_id:
        return None
    if studio.active(provider, call_id):
        speech = studio.step(
            provider, call_id, digits[:8], recording[:500], _studio_target, audio_url, _keep_recording, "phone", phone
        )
    elif digits == "*" and studio.allows(phone):
        runtime().calls.hang_up(provider, call_id)  # her member menu is left behind
        speech = studio.begin(provider, call_id)
    else:
        return None
    return CallStep(speech, "en")


def _studio_target(number: int):
    """The prompt (or live text) an organiser typed the number of."""
    if number < live_texts.SESSIONS:
        entries = prompt_audit(runtime().services.book, runtime().services.catalog, runtime().audio).needed
        entry = next((e for e in entries if e.number == number), None)
        return Target(entry.language, entry.key, entry.text) if entry else None
    with runtime().db.session() as db:
        text = live_texts.by_number(db, number)
    if text is None:
        return None
    lang = current_app.config["GATEWAY"].default_language
    return Target(lang, text.key, text.texts.get(lang) or next(iter(text.texts.values()), ""))


def _keep_recording(provider: str, url: str, target, who: str) -> None:
    """Queue the job that fetches her recording from the provider and keeps it."""
    config = current_app.config["GATEWAY"]
    broker.enqueue(
        runtime().queues["default"],
        "save_recording",
        provider,
        url,
        target.lang,
        target.key,
        target.text,
        who,
        config=config,
        retry=Retry(max=5, interval=[5, 15, 60, 300, 900]),
    )
    with runtime().db.session() as db:
        audit.record(db, f"{who} (studio PIN)", "prompt.record", f"{target.lang}/{target.key}", "by phone")


def step(
    provider: str, call_id: str, caller: str, digits: str, recording: str, silent: bool, placed: int | None = None
):
    """What to say for this callback (a ``CallStep``); a goodbye when it cannot go on.
    ``placed`` is the outbox row of a call we placed, if this is one."""
    calls = runtime().calls
    phone = to_e164(caller)
    lang = current_app.config["GATEWAY"].default_language
    if phone is None or not call_id:
        return calls.farewell(lang)
    try:
        flow, start_vars = "main", {}
        if placed is not None and not calls.in_progress(provider, call_id):
            with runtime().db.session() as db:
                flow, start_vars = outbound_calls.flow_for(db, placed)
        return calls.step(
            provider,
            call_id[:80],
            phone,
            digits=digits[:8],
            recording=recording[:300],
            silent=silent,
            flow=flow,
            start_vars=start_vars,
        )
    except Exception:  # a caller must hear a goodbye, not the provider's error voice
        log.exception("voice step via %s failed", provider)
        return calls.farewell(lang)


def always_xml(render: Callable[[CallStep], str]):
    """Whatever fails inside the route (the database, Redis), the provider gets valid
    XML, ``render``ed from a goodbye the caller can hear: never a 500 read out by the
    provider's own voice."""

    def wrap(handler):
        @functools.wraps(handler)
        def guarded():
            try:
                return handler()
            except Exception:
                log.exception("voice webhook %s failed", request.path)
                lang = current_app.config["GATEWAY"].default_language
                return xml(render(runtime().calls.farewell(lang)))

        return guarded

    return wrap


def call_back(provider: str, call_id: str, caller: str) -> bool:
    """With MISSED_CALL_CALLBACK on, a new incoming call is rejected (so it costs her
    nothing) and we call her back. True when this call should be rejected."""
    if not current_app.config["GATEWAY"].calls_back or not call_id:
        return False
    if runtime().calls.in_progress(provider, call_id):
        return False
    phone = to_e164(caller)
    if phone is None:
        return False
    try:
        outbound_calls.missed_call(runtime().services, phone)
    except Exception:  # she still gets the reject; the log says why no call came
        log.exception("call-back via %s could not be queued", provider)
    return True
