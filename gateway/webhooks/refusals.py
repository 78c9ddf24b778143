"""A refused webhook's answer in its channel's own shape (``guard.webhook``'s ``refuse``):
what the provider reads, or plays to the member, when the request is not let in."""

from __future__ import annotations

from flask import Response, jsonify

from gateway.channels.ussd.pages import reply
from gateway.channels.voice import markup

_WORDS = {403: "Forbidden", 404: "Not found"}


def plain(status: int) -> Response:
    return Response(_WORDS.get(status, "Too long"), status, mimetype="text/plain")


def empty(status: int) -> Response:
    """Reports: the body says nothing to anyone."""
    return Response("", status, mimetype="text/plain")


def json(status: int) -> Response:
    return jsonify(error=_WORDS.get(status, "Too long").lower()), status


def ussd(status: int) -> Response:
    """``END …``: the member's session ends with a message, not a network error."""
    return Response(reply(_WORDS.get(status, "Too long"), final=True), status, mimetype="text/plain")


def voice(status: int) -> Response:
    """The call is rejected: both voice providers read the same ``<Reject/>``."""
    return Response(markup.reject(), status, mimetype="text/xml")
