"""What every SMS provider adapter offers, and the plain data it speaks.

Adapters are thin: they turn a provider's HTTP callbacks into these records, send
text through the provider's official SDK, and sort failures into transient
(retry) and permanent (fail once). No flow logic lives in an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence


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
    transient: bool = False  # worth retrying
    opted_out: bool = False  # the recipient blocked us: mark the member opted out


class Provider(Protocol):
    name: str

    def send(self, text: str, phones: Sequence[str]) -> list[SendOutcome]:
        """Send one text to one or more numbers. Raises TransientProviderError when
        nothing can be said about any recipient (timeout, 5xx) and
        PermanentProviderError when the request itself can never succeed."""

    def call(self, phone: str, answer_url: str, status_url: str) -> SendOutcome:
        """Place a phone call; when it is answered the provider asks ``answer_url``
        (Twilio) or the number's voice callback (Africa's Talking) what to play.
        The outcome's provider id is the call's id."""

    def parse_inbound(self, form: Mapping[str, str]) -> Inbound | None: ...

    def parse_report(self, form: Mapping[str, str]) -> DeliveryReport | OptOutNotice | None: ...
