"""Versions of the content in the database: drafts, the one published version, the past.

Rows only; what may be published is decided above (``content.review`` checks a
version before ``publish`` is called). Publishing is one transaction: the old
version becomes ``past`` and the new one ``published`` together, and the partial
unique index ``one_published_version`` refuses a second publisher's commit instead
of leaving two published versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.store.models import ContentDocument, ContentEdit, ContentVersion, utcnow
from gateway.store.states import VersionState

DRAFT, PUBLISHED, PAST = VersionState.DRAFT, VersionState.PUBLISHED, VersionState.PAST


def published(db: Session) -> ContentVersion | None:
    return db.scalar(select(ContentVersion).where(ContentVersion.status == PUBLISHED))


def published_number(db: Session) -> int | None:
    return db.scalar(select(ContentVersion.id).where(ContentVersion.status == PUBLISHED))


def get(db: Session, number: int) -> ContentVersion | None:
    return db.get(ContentVersion, number)


def documents(db: Session, number: int) -> dict[str, str]:
    return dict(
        db.execute(select(ContentDocument.name, ContentDocument.body).where(ContentDocument.version_id == number)).all()
    )


def add(
    db: Session,
    docs: Mapping[str, str],
    source: str,
    author: str,
    note: str | None = None,
    based_on: int | None = None,
    shipped_digest: str | None = None,
) -> ContentVersion:
    """A new draft holding ``docs``."""
    row = ContentVersion(
        status=DRAFT,
        source=source,
        author=author,
        note=(note or None) and note[:500],
        based_on=based_on,
        shipped_digest=shipped_digest,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    db.add_all(ContentDocument(version_id=row.id, name=name, body=body) for name, body in docs.items())
    db.flush()
    return row


def publish(db: Session, number: int, now: datetime | None = None) -> ContentVersion:
    """Make draft ``number`` the published version; the one before becomes past."""
    row = db.get(ContentVersion, number)
    if row is None or row.status != DRAFT:
        raise ValueError(f"version {number} is not a draft")
    db.execute(update(ContentVersion).where(ContentVersion.status == PUBLISHED).values(status=PAST))
    row.status, row.published_at = PUBLISHED, now or utcnow()
    db.flush()
    return row


def history(db: Session, limit: int = 50) -> list[ContentVersion]:
    return list(db.scalars(select(ContentVersion).order_by(ContentVersion.id.desc()).limit(limit)))


def drafts(db: Session) -> list[ContentVersion]:
    return list(
        db.scalars(select(ContentVersion).where(ContentVersion.status == DRAFT).order_by(ContentVersion.id.desc()))
    )


def discard(db: Session, number: int) -> bool:
    """Delete draft ``number`` (a published or past version is history, and stays)."""
    row = db.get(ContentVersion, number)
    if row is None or row.status != DRAFT:
        return False
    db.execute(delete(ContentDocument).where(ContentDocument.version_id == number))
    db.delete(row)
    db.flush()
    return True


def shipped_versions(db: Session) -> list[ContentVersion]:
    """Versions made from the repository's content, newest first."""
    return list(
        db.scalars(select(ContentVersion).where(ContentVersion.source == "shipped").order_by(ContentVersion.id.desc()))
    )


# ---------------------------------------------------------------- the editors' draft


def edits(db: Session) -> list[ContentEdit]:
    return list(db.scalars(select(ContentEdit).order_by(ContentEdit.key, ContentEdit.language)))


def edit(db: Session, language: str, key: str) -> ContentEdit | None:
    return db.scalar(select(ContentEdit).where(ContentEdit.language == language, ContentEdit.key == key))


def save_edit(db: Session, language: str, key: str, text: str, base: str | None, author: str) -> ContentEdit:
    """Keep ``text`` as the draft's for (``language``, ``key``); ``base`` is what the
    editor started from (the caller has checked it is still what is there)."""
    row = edit(db, language, key)
    if row is None:
        row = ContentEdit(language=language, key=key, base=base)
        db.add(row)
    row.text, row.author, row.saved_at = text, author, utcnow()
    db.flush()
    return row


def drop_edit(db: Session, language: str, key: str) -> bool:
    return bool(
        db.execute(delete(ContentEdit).where(ContentEdit.language == language, ContentEdit.key == key)).rowcount
    )


def clear_edits(db: Session, rows: list[ContentEdit]) -> None:
    """Remove the edits that were published (others saved meanwhile stay)."""
    for row in rows:
        db.execute(delete(ContentEdit).where(ContentEdit.id == row.id, ContentEdit.saved_at == row.saved_at))
