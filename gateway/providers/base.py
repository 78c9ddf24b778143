"""What every SMS provider adapter offers, and the plain data it speaks.

Adapters are thin: they turn a provider's HTTP callbacks into these records, send
text through the provider's official SDK, and sort every failure into one of three
kinds (see ``gateway.errors``): *not sent* (retry), *rejected* (fail once) and
*ambiguous* (the request may have reached the provider: never resent blindly).
No flow logic lives in an adapter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from gateway.errors import PermanentProviderError


@dataclass(frozen=True)
class Inbound:
    """One text a member sent us."""

    provider: str
    provider_message_id: str
    phone: str  # as the provider sent it; normalised to E.164 by the caller
    text: str


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's word on a message we sent. ``status`` is ours: sent, delivered,
    failed (final) or None for intermediate states that change nothing."""

    provider: str
    provider_message_id: str
    status: str | None
    error: str | None = None
    opted_out: bool = False
    # The recipient, where the provider says it: a report for a send whose answer
    # was lost (an ``unknown`` row, no provider id) is matched by it.
    phone: str | None = None


@dataclass(frozen=True)
class OptOutNotice:
    """The provider says this number opted out (Africa's Talking bulk opt-out)."""

    provider: str
    phone: str


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one recipient of a send."""

    phone: str
    accepted: bool
    provider_message_id: str | None = None
    error: str | None = None
    transient: bool = False  # not sent: worth retrying
    opted_out: bool = False  # the recipient blocked us: mark the member opted out
    ambiguous: bool = False  # may have been sent (answer lost): never resent blindly


def environment_settings(url: str) -> dict:
    """The ``requests`` settings the environment gives for ``url``: its proxies
    (``HTTPS_PROXY``, ``NO_PROXY`` …) and CA bundle (``REQUESTS_CA_BUNDLE``).

    A session that trusts the environment (requests' default) reads all of it again
    on every request, once or twice, and looks for ``~/.netrc``: 85–160 µs a send,
    a quarter of an Africa's Talking send's CPU. So providers read it once per
    host, with ``trust_env`` off: through ``SettledSession``, or (Twilio, whose SDK
    owns its session) by handing this to the SDK. ``~/.netrc`` no longer applies;
    no provider authenticates with it."""
    return {
        "proxies": requests.utils.get_environ_proxies(url),
        "verify": os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True,
    }


class SettledSession(requests.Session):
    """A ``requests`` session that takes the environment's settings once per host
    (``environment_settings``), not on every request. What a caller passes (other
    than None) wins."""

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self._environment: dict[tuple[str, str], dict] = {}

    def request(self, method, url, *args, **kwargs):
        host = urlsplit(url)[:2]
        settings = self._environment.get(host)
        if settings is None:
            settings = self._environment[host] = environment_settings(url)
        for name, value in settings.items():
            if kwargs.get(name) is None:  # requests' own default is None too
                kwargs[name] = value
        return super().request(method, url, *args, **kwargs)


def request_was_written(exc: requests.RequestException) -> bool:
    """Whether a failed HTTP call may have reached the provider.

    A refused connection, a failed DNS lookup or a connect timeout happened before
    our request was written: it was not sent, and retrying is safe. A read timeout
    or a connection dropped afterwards leaves us not knowing: the provider may have
    sent the text and only its answer was lost.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ReadTimeout):
        return True
    seen, todo = set(), [exc]
    while todo:  # requests wraps urllib3's errors a few layers deep
        error = todo.pop()
        if id(error) in seen or error is None:
            continue
        seen.add(id(error))
        if isinstance(error, (NewConnectionError, ConnectionRefusedError)):
            return False
        todo += [getattr(error, "reason", None), error.__cause__, error.__context__]
        todo += [arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException)]
    return True


def transport_outcome(phone: str, provider: str, exc: requests.RequestException) -> SendOutcome:
    """The outcome of a send whose HTTP call failed (see ``request_was_written``)."""
    kind = type(exc).__name__
    if request_was_written(exc):
        return SendOutcome(phone, False, error=f"{provider}: no answer ({kind}); may have been sent", ambiguous=True)
    return SendOutcome(phone, False, error=f"{provider} unreachable: {kind}", transient=True)


class Provider:
    """What every provider is asked, with the answers of one that only sends texts.

    A provider says what more it can do by overriding these (Africa's Talking and
    Twilio place calls and fetch their recordings; Android phones pace themselves
    and share their limits through Redis), so callers ask the provider, never
    whether it happens to have an attribute."""

    name: str = ""
    # How many recipients one request to the provider carries: None for as many as
    # BULK_BATCH_SIZE (Africa's Talking's bulk send), 1 where every recipient is a
    # request of its own (Twilio). Bulk sending claims rows per request, so this is
    # what keeps a crash from leaving more than the requests in flight unknown.
    recipients_per_request: int | None = None
    # Rows a bulk job takes, where the provider paces itself (None: BULK_BATCH_SIZE).
    batch_size: int | None = None
    # Whether recordings made on its calls can be fetched (record-by-phone).
    makes_recordings: bool = False

    def send(
        self,
        text: str,
        phones: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        urgent: bool = True,
        ttl: int | None = None,
    ) -> list[SendOutcome]:
        """Send one text to one or more numbers. Raises TransientProviderError when
        nothing can be said about any recipient (timeout, 5xx) and
        PermanentProviderError when the request itself can never succeed.

        ``ids`` (ours, one per number, stable across retries) let a provider that
        takes a client id refuse a second copy; ``urgent`` is a reply to a member
        (bulk is not); ``ttl`` is how long a bulk text may still be worth sending.
        A provider that cannot use them ignores them."""
        raise NotImplementedError

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        """Place a phone call; when it is answered the provider asks ``answer_url``
        (Twilio) or the number's voice callback (Africa's Talking) what to play.
        The outcome's provider id is the call's id."""
        return SendOutcome(phone, False, error=f"{self.name} places no calls")

    def fetch_recording(self, url: str) -> bytes:
        """The audio of a recording made on a call (record-by-phone), from the URL
        the provider's callback gave. Raises TransientProviderError while it is not
        ready, PermanentProviderError when it never will be (``makes_recordings``)."""
        raise PermanentProviderError(f"{self.name} makes no recordings")

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None:
        return None

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | OptOutNotice | None:
        return None

    def attach(self, redis) -> None:
        """Share its limits with every worker through Redis (Android phones' pace,
        SMPP's one link). Most providers have none."""

    def minutes_for(self, messages: int) -> float | None:
        """How long ``messages`` texts take at the provider's own pace; None where
        it has none worth saying (an aggregator takes a broadcast at once)."""
        return None

    def senders(self) -> int:
        """How many senders share the pace (phones): said beside ``minutes_for``."""
        return 1

    def sender_health(self) -> list[dict] | None:
        """Each sender's state for /healthz, where it has several (Android phones)."""
        return None
