"""``outreach phones status`` and ``outreach phones webhooks``: the Android phones
that carry SMS where no telco API does (SMS_PROVIDER=android)."""

from __future__ import annotations

import click

from gateway.cli import cli, fail, open_services


@cli.group()
def phones() -> None:
    """Android phones with local SIMs (SMS Gateway for Android)."""


def _android(services):
    provider = services.provider
    if provider.name != "android":
        fail(f"SMS_PROVIDER is {provider.name!r}; these commands are for SMS_PROVIDER=android")
    return provider


@phones.command("status")
def status_command() -> None:
    """Each phone: in the rotation or resting (and why), and texts sent in the last minute."""
    provider = _android(open_services())
    for entry in provider.pool.status():
        state = "in rotation" if entry.in_rotation else f"RESTING: {entry.reason}"
        click.echo(
            f"{entry.phone.name:<28} {state:<40} {entry.sent_last_minute:>3}/{provider.rate} texts in the last minute"
        )


@phones.command("webhooks")
@click.option("--url", default="", help="Where the phones should post (default: PUBLIC_BASE_URL/sms/android).")
def webhooks_command(url: str) -> None:
    """Register our webhook on every phone (or server) for received texts and
    sent/delivered/failed reports; running it again replaces them."""
    import requests
    from android_sms_gateway.errors import APIError

    services = open_services()
    provider = _android(services)
    base = services.config.public_base_url.rstrip("/")
    url = url or (f"{base}/sms/android" if base else "")
    if not url.startswith(("http://", "https://")):
        fail("give --url https://YOUR-HOST/sms/android, or set PUBLIC_BASE_URL")
    try:
        done = provider.register_webhooks(url)
    except (requests.RequestException, APIError) as exc:
        fail(
            f"a phone did not take the webhooks ({type(exc).__name__}: {exc}); is the app's server "
            f"on and ANDROID_API_URL, ANDROID_USERNAME and ANDROID_PASSWORD right?"
        )
    for phone, event, hook in done:
        click.echo(f"{phone}: {event} -> {url} (id {hook})")
    if not services.config.android_signing_key:
        click.secho(
            "warning: ANDROID_SIGNING_KEY is not set, so every webhook will be refused (403); "
            "copy the app's signing key into it",
            fg="yellow",
        )
