"""``GET /audio/<lang>/<file>``: the recorded prompts a call's XML points at (and the
studio's players). Public, as the provider fetches them without credentials; a name
is served only when it is the recording's current file. Every host serves every
recording: the organisers' own are in the database (``content/recordings.py``)."""

from __future__ import annotations

import hashlib
import io

from flask import Blueprint, abort, send_file

from gateway.runtime import runtime

bp = Blueprint("audio", __name__)


@bp.get("/audio/<lang>/<name>")
def audio(lang: str, name: str):
    found = runtime().audio.audio(lang, name)
    if found is None:
        abort(404)
    data, mimetype = found
    # A re-recorded prompt keeps its URL: providers and browsers must ask again soon,
    # and the tag (of the bytes) lets them keep what has not changed.
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        max_age=300,
        etag=hashlib.sha256(data).hexdigest()[:32],
        conditional=True,
        download_name=name,
    )
