"""Recorded prompts on disk, and what text each was recorded from.

Two folders are read, the first found wins:
- the organisers' own, ``RECORDINGS_DIR`` (default ``instance/audio``), written by
  the prompt studio, record-by-phone and ``outreach prompts import``;
- those shipped with the project, ``prompts/audio``.

Each is ``<lang>/<key>.wav`` (or ``.mp3``). Beside an organiser's recording a small
``<key>.json`` keeps the text it was read from, who recorded it and when: when the
prompt's text changes after, the recording is *outdated* (it still plays, and the
studio asks for a new one). Files are looked up on every use (a few ``stat`` calls
per screen), so a recording made in one web process plays at once in all of them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

EXTENSIONS = (".wav", ".mp3")
RECORDED, OUTDATED, MISSING = "recorded", "outdated", "missing"


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
    path: Path


class Recordings:
    def __init__(self, own: Path, shipped: Path | None = None):
        self.own = Path(own)
        self.folders = [self.own] + ([Path(shipped)] if shipped is not None else [])

    def path(self, lang: str, key: str) -> Path | None:
        if not (safe_part(lang) and safe_part(key)):
            return None
        for folder in self.folders:
            for extension in EXTENSIONS:
                candidate = folder / lang / f"{key}{extension}"
                if candidate.is_file():
                    return candidate
        return None

    def file(self, lang: str, key: str) -> str | None:
        """The file's name (``key.wav``) if there is a recording."""
        found = self.path(lang, key)
        return found.name if found else None

    def has(self, lang: str, key: str) -> bool:
        return self.path(lang, key) is not None

    def info(self, lang: str, key: str) -> dict | None:
        """What the recording was read from: ``text``, ``by``, ``at``, ``seconds``, ``source``."""
        sidecar = self.own / lang / f"{key}.json"
        try:
            return json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def status(self, lang: str, key: str, text: str) -> str:
        if not self.has(lang, key):
            return MISSING
        info = self.info(lang, key)
        if info is not None and " ".join(str(info.get("text", "")).split()) != " ".join(text.split()):
            return OUTDATED
        return RECORDED

    def save(self, lang: str, key: str, wav: bytes, *, text: str, by: str, source: str, seconds: float) -> Path:
        """Keep a converted recording (and its text), replacing any older one; the
        file appears whole or not at all (written aside, then renamed)."""
        if not (safe_part(lang) and safe_part(key)):
            raise ValueError(f"cannot name a recording {lang}/{key}")
        folder = self.own / lang
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{key}.wav"
        _write_whole(target, wav)
        _write_whole(
            folder / f"{key}.json",
            json.dumps(
                {
                    "text": text,
                    "by": by,
                    "source": source,
                    "seconds": seconds,
                    "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                },
                ensure_ascii=False,
            ).encode(),
        )
        for extension in EXTENSIONS:  # an older MP3 of the same key would shadow nothing, but confuse
            other = folder / f"{key}{extension}"
            if other != target and other.exists():
                other.unlink()
        return target

    def all(self) -> Iterator[Found]:
        """Every recording, each (lang, key) once, the organisers' own first."""
        seen: set[tuple[str, str]] = set()
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*/*")):
                if path.suffix.lower() in EXTENSIONS and (path.parent.name, path.stem) not in seen:
                    seen.add((path.parent.name, path.stem))
                    yield Found(path.parent.name, path.stem, path)


def _write_whole(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)
