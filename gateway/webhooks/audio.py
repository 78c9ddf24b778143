"""``GET /audio/<lang>/<file>``: the recorded prompts a call's XML points at (and the
studio's players). Public, as the provider fetches them without credentials; a name
is served only when it is the recording's current file."""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory
from gateway.runtime import runtime

bp = Blueprint("audio", __name__)


@bp.get("/audio/<lang>/<name>")
def audio(lang: str, name: str):
    key, _, extension = name.rpartition(".")
    found = runtime().audio.path(lang, key)
    if found is None or found.name != name:
        abort(404)
    # A re-recorded prompt keeps its URL: providers and browsers must ask again soon.
    return send_from_directory(
        found.parent, found.name, max_age=300, mimetype="audio/wav" if extension == "wav" else "audio/mpeg"
    )
