"""``outreach smpp``: the process that holds the SMPP bind (``outreach up`` runs it)."""

from __future__ import annotations

import signal

import click

from gateway.cli import cli, fail


@cli.command()
def smpp() -> None:
    """Hold the SMPP bind to the SMSC (SMS_PROVIDER=smpp): send what jobs hand it,
    take inbound texts and receipts. ``outreach up`` runs it for you."""
    import threading

    from gateway.channels.sms.inbox import Inbox
    from gateway.providers.smpp.link import SmppLink
    from gateway.channels.sms.spool import Spool
    from gateway.logs import setup_logging
    from gateway.services import Services

    services = Services.build()
    config = services.config
    if config.sms_provider != "smpp":
        fail(f"SMS_PROVIDER is {config.sms_provider!r}; `outreach smpp` is for SMS_PROVIDER=smpp")
    setup_logging(config)
    link = SmppLink(services, Inbox.of(services), Spool(config.instance_path / "spool"))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"smpp link to {config.smpp_host}:{config.smpp_port} as {config.smpp_system_id}")
    link.run(stop)
