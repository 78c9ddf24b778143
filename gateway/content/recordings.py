"""Recorded prompts, and what text each was recorded from.

Two places are read, the first found wins:
- the organisers' own, in the database (``recordings``), written by the prompt
  studio, record-by-phone and ``outreach prompts import``: every web host plays
  and serves each one, whichever host or worker received it;
- those shipped with the project, ``prompts/audio`` (``<lang>/<key>.wav`` or
  ``.mp3``), which every host has with the code.

Beside an organiser's recording the database keeps the text it was read from, who
recorded it and when: when the prompt's text changes after, the recording is
*outdated* (it still plays, and the studio asks for a new one).

Which prompts are recorded (and from what text) is read in one query and kept for
``INDEX_FRESH_S``: a call's screens and the studio's page ask about hundreds of
prompts, and a recording made on another host is heard within that second. The
audio itself is read only when the provider (or a browser) fetches it.

An install from before recordings were kept in the database had them as files in
``RECORDINGS_DIR`` (default ``instance/audio``); ``outreach migrate`` moves them in
(``adopt``), leaving the files where they were.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import select

from gateway.outage import is_outage
from gateway.store.database import Database
from gateway.store.models import Recording

log = logging.getLogger(__name__)

EXTENSIONS = (".wav", ".mp3")
RECORDED, OUTDATED, MISSING = "recorded", "outdated", "missing"
INDEX_FRESH_S = 1.0
MIMETYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg"}


def safe_part(text: str) -> bool:
    """A language code or prompt key that can name a file (no paths, no hidden files)."""
    return (
        bool(text)
        and len(text) <= 120
        and not text.startswith(".")
        and all(ch.isalnum() or ch in "._-@" for ch in text)
    )


@dataclass(frozen=True)
class Found:
    lang: str
    key: str
    name: str  # ``key.wav``: its name in a URL and in an export
    read: Callable[[], bytes]


class Recordings:
    def __init__(self, db: Database | None, shipped: Path | None = None):
        self.db = db
        self.shipped = Path(shipped) if shipped is not None else None
        self._index: dict[tuple[str, str], str] = {}
        self._index_at = float("-inf")

    # ------------------------------------------------------------------ reading

    def file(self, lang: str, key: str) -> str | None:
        """The recording's name (``key.wav``) if there is one."""
        if not (safe_part(lang) and safe_part(key)):
            return None
        if (lang, key) in self._own():
            return f"{key}.wav"
        found = self._shipped_path(lang, key)
        return found.name if found else None

    def has(self, lang: str, key: str) -> bool:
        return self.file(lang, key) is not None

    def audio(self, lang: str, name: str) -> tuple[bytes, str] | None:
        """The bytes and type of ``lang/name`` (as ``file`` names it), or None.
        Asked of the database itself, not the list kept for a second: the studio's
        player fetches a recording the moment it is saved, maybe from another
        process or host."""
        key, _, extension = name.rpartition(".")
        if not (safe_part(lang) and safe_part(key)) or f".{extension}" not in EXTENSIONS:
            return None
        if self.db is not None:
            with self.db.session() as db:
                data = db.scalar(select(Recording.audio).where(Recording.language == lang, Recording.key == key))
            if data is not None:  # the organisers' own replaces a shipped one of any kind
                return (data, MIMETYPES[".wav"]) if extension == "wav" else None
        found = self._shipped_path(lang, key)
        return (found.read_bytes(), MIMETYPES[found.suffix]) if found and found.name == name else None

    def info(self, lang: str, key: str) -> dict | None:
        """What the recording was read from: ``text``, ``by``, ``at``, ``seconds``, ``source``."""
        if self.db is None:
            return None
        with self.db.session() as db:
            row = db.execute(
                select(
                    Recording.text, Recording.recorded_by, Recording.recorded_at, Recording.seconds, Recording.source
                ).where(Recording.language == lang, Recording.key == key)
            ).first()
        if row is None:
            return None
        return {
            "text": row.text,
            "by": row.recorded_by,
            "at": row.recorded_at.isoformat(timespec="seconds"),
            "seconds": row.seconds,
            "source": row.source,
        }

    def status(self, lang: str, key: str, text: str) -> str:
        if not self.has(lang, key):
            return MISSING
        recorded_from = self._own().get((lang, key))
        if recorded_from is not None and " ".join(recorded_from.split()) != " ".join(text.split()):
            return OUTDATED
        return RECORDED

    def all(self) -> Iterator[Found]:
        """Every recording, each (lang, key) once, the organisers' own first."""
        own = sorted(self._own(fresh=True))
        for lang, key in own:
            yield Found(lang, key, f"{key}.wav", lambda lang=lang, key=key: self.audio(lang, f"{key}.wav")[0])
        if self.shipped is None or not self.shipped.is_dir():
            return
        for path in sorted(self.shipped.glob("*/*")):
            if path.suffix.lower() in EXTENSIONS and (path.parent.name, path.stem) not in self._own():
                yield Found(path.parent.name, path.stem, path.name, path.read_bytes)

    # ------------------------------------------------------------------ writing

    def save(self, lang: str, key: str, wav: bytes, *, text: str, by: str, source: str, seconds: float) -> None:
        """Keep a converted recording (and its text), replacing any older one, in
        one transaction: it is there whole, for every host, or not at all."""
        if not (safe_part(lang) and safe_part(key)):
            raise ValueError(f"cannot name a recording {lang}/{key}")
        if self.db is None:
            raise RuntimeError("recordings are kept in the database; this one has none")
        with self.db.session() as db:
            db.merge(
                Recording(
                    language=lang,
                    key=key,
                    audio=wav,
                    text=text,
                    recorded_by=by,
                    source=source,
                    seconds=seconds,
                    recorded_at=datetime.now(timezone.utc),
                )
            )
        self._index_at = float("-inf")  # this process hears it at once

    def adopt(self, folder: Path) -> int:
        """Move the recordings an earlier release kept as files in ``folder`` into
        the database, each with the text its ``.json`` says it was read from; one
        the database has already is left as it is. Returns how many came in."""
        folder = Path(folder)
        if self.db is None or not folder.is_dir():
            return 0
        adopted = 0
        for path in sorted(folder.glob("*/*")):
            lang, key = path.parent.name, path.stem
            if path.suffix.lower() not in EXTENSIONS or not (safe_part(lang) and safe_part(key)):
                continue
            if (lang, key) in self._own(fresh=True):
                continue
            sidecar = _sidecar(path.with_suffix(".json"))
            self.save(
                lang,
                key,
                path.read_bytes(),
                text=str(sidecar.get("text", "")),
                by=str(sidecar.get("by", "")),
                source=str(sidecar.get("source", "import")),
                seconds=float(sidecar.get("seconds") or 0.0),
            )
            adopted += 1
        return adopted

    # ------------------------------------------------------------------ inside

    def _own(self, fresh: bool = False) -> dict[tuple[str, str], str]:
        """(lang, key) -> the text it was recorded from, for the organisers' own."""
        if self.db is None:
            return {}
        now = time.monotonic()
        if fresh or now - self._index_at > INDEX_FRESH_S:
            try:
                with self.db.session() as db:
                    self._index = {
                        (row.language, row.key): row.text
                        for row in db.execute(select(Recording.language, Recording.key, Recording.text))
                    }
            except Exception as exc:
                if not is_outage(exc):
                    raise
                # A call goes on while the database is down: with the recordings it
                # knew of (their audio is out of reach until it is back), or none.
                log.warning("recordings: the list is out of reach (%s)", type(exc).__name__)
            self._index_at = now
        return self._index

    def _shipped_path(self, lang: str, key: str) -> Path | None:
        if self.shipped is None:
            return None
        for extension in EXTENSIONS:
            candidate = self.shipped / lang / f"{key}{extension}"
            if candidate.is_file():
                return candidate
        return None


def _sidecar(path: Path) -> dict:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
