"""The database: the source of truth for members, sessions, enrolments and quizzes."""

from gateway.store.database import Database, init_app

__all__ = ["Database", "init_app"]
