"""The database: the source of truth for members, sessions, enrolments and quizzes."""

from gateway.store.database import Database

__all__ = ["Database"]
