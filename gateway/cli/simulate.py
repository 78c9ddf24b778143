"""``outreach simulate``: a phone in the terminal, over the real flows, database
and Redis. It posts exactly what Africa's Talking would post, so what you see is
what a member sees."""

from __future__ import annotations

import uuid

import click

from gateway.cli import cli, fail, open_app
from gateway.runtime import runtime_of


class Phone:
    """Dials the USSD webhook the way a handset and Africa's Talking do."""

    def __init__(self, client, phone: str, service_code: str, token: str):
        self.client, self.phone, self.service_code = client, phone, service_code
        self.url = "/ussd/africastalking" + (f"?token={token}" if token else "")
        self.session_id = self.text = ""

    def dial(self) -> str:
        self.session_id, self.text = f"SIM{uuid.uuid4().hex[:12]}", ""
        return self._post()

    def press(self, typed: str) -> str:
        self.text = typed if self.text == "" else f"{self.text}*{typed}"
        return self._post()

    def _post(self) -> str:
        response = self.client.post(
            self.url,
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.phone,
                "networkCode": "45701",
                "text": self.text,
            },
        )
        return response.get_data(as_text=True)


class Texter:
    """Texts the SMS webhook as Africa's Talking would, processes the inbox, then runs
    the queued replies through the configured provider (console by default) and
    returns what arrived."""

    def __init__(self, app, phone: str, token: str):
        from gateway import services

        services.bind(runtime_of(app).services)
        self.app, self.client, self.phone = app, app.test_client(), phone
        self.url = "/sms/africastalking" + (f"?token={token}" if token else "")

    def send(self, text: str) -> list[str]:
        from rq import SimpleWorker
        from sqlalchemy import select

        from gateway.broker import QUEUES
        from gateway.store import members
        from gateway.store.models import OutboundMessage

        with runtime_of(self.app).db.session() as db:
            member = members.by_phone(db, self.phone)
            last = db.scalar(select(OutboundMessage.id).order_by(OutboundMessage.id.desc()).limit(1)) or 0
        self.client.post(
            self.url,
            data={
                "from": self.phone,
                "to": "20880",
                "text": text,
                "id": f"SIM{uuid.uuid4().hex}",
                "date": "",
                "linkId": "",
            },
        )
        runtime_of(self.app).inbox.drain(wait=True)  # the webhook only stored it
        queues = [runtime_of(self.app).queues[name] for name in QUEUES]
        SimpleWorker(queues, connection=runtime_of(self.app).redis).work(burst=True, logging_level="WARNING")
        with runtime_of(self.app).db.session() as db:
            member = members.by_phone(db, self.phone)
            if member is None:
                return []
            return list(
                db.scalars(
                    select(OutboundMessage.body)
                    .where(OutboundMessage.member_id == member.id, OutboundMessage.id > last)
                    .order_by(OutboundMessage.id)
                )
            )


def show_sms(bodies: list[str]) -> None:
    from gateway.encoding import sms_size

    if not bodies:
        click.secho("(no reply)", fg="yellow")
    for body in bodies:
        size = sms_size(body)
        click.secho(
            f"── SMS to you ({size.encoding}, {size.segments} segment{'s' if size.segments != 1 else ''}) " + "─" * 16,
            fg="cyan",
        )
        click.echo(body)


class Caller:
    """Rings the gateway: each step is what a provider callback would carry."""

    def __init__(self, app, phone: str):
        self.app, self.phone = app, phone
        self.call_id = f"SIMCALL{uuid.uuid4().hex[:12]}"

    def step(self, typed: str | None, record: bool) -> object:
        calls = runtime_of(self.app).calls
        if typed is None:
            return calls.step("simulator", self.call_id, self.phone)
        if record:
            return calls.step("simulator", self.call_id, self.phone, recording=f"sim-recording:{typed}")
        return calls.step("simulator", self.call_id, self.phone, digits=typed, silent=not typed)


def show_call(app, step, number: int) -> None:
    library = runtime_of(app).audio
    speech, lang = step.speech, step.language
    click.secho(f"── call, step {number} ({lang}) " + "─" * 24, fg="cyan")
    for piece in speech.pieces:
        audio = library.file(lang, piece.key) if piece.key else None
        if audio:
            source = f"plays audio/{lang}/{audio}"
        else:
            source = "no recording: text-to-speech" if lang == "en" else "no recording: ENGLISH meanwhile"
        click.echo(
            f"  {piece.text:<44} "
            + click.style(f"[{piece.key or 'live text'}; {source}]", fg="bright_black" if audio else "yellow")
        )
    if lang != "en" and step.english is not None:
        _heard_instead(library, step)
    if speech.record:
        click.secho("  (records what she says; type anything to stand for it)", fg="yellow")
    elif speech.digits:
        click.secho(
            f"  (waits for {'a key' if speech.digits == 1 else 'keys, then #'}; press Enter for silence)", fg="yellow"
        )
    else:
        click.secho("  (the call ends)", fg="yellow")


def _heard_instead(library, step) -> None:
    """When the screen is not all recorded in her language, what the call really
    plays instead (the provider XML's own choice, so the two cannot differ)."""
    import xml.etree.ElementTree as ET

    from gateway.channels.voice import markup

    def audio_url(lang: str, key: str):
        name = library.file(lang, key)
        return f"audio/{lang}/{name}" if name else None

    # Not untrusted XML: our own, made by markup.at_xml on this line.
    played = ET.fromstring(markup.at_xml(step.speech, step.language, audio_url, "", step.english))  # nosec B314
    heard = [
        f"[plays {e.get('url')}]" if e.tag == "Play" else (e.text or "")
        for e in played.iter()
        if e.tag in ("Play", "Say")
    ]
    own = all(
        e.tag == "Play" and f"audio/{step.language}/" in (e.get("url") or "")
        for e in played.iter()
        if e.tag in ("Play", "Say")
    )
    if heard and not own:
        click.secho("  she hears instead: " + " ".join(heard), fg="yellow")


def show(reply: str, number: int) -> None:
    kind, _, body = reply.partition(" ")
    click.secho(f"── screen {number} ({kind}, {len(body)} chars) " + "─" * 20, fg="cyan")
    click.echo(body)


@cli.command()
@click.option(
    "--phone",
    default="+12025550100",
    show_default=True,
    help="Caller's number (the default is kept for fiction: no real member can have it).",
)
@click.option(
    "--lang",
    default=None,
    metavar="LANGUAGE",
    help="Language for a member not yet registered, one the content has (registered members keep theirs).",
)
@click.option(
    "--input", "inputs", multiple=True, help="Scripted key presses, in order (repeat the option). Prints every screen."
)
@click.option("--service-code", default="*384*1#", show_default=True)
@click.option(
    "--channel",
    type=click.Choice(["ussd", "sms", "voice"]),
    default="ussd",
    show_default=True,
    help="sms: each input is a text message (try JOIN, NEXT, ຕໍ່ໄປ, STOP); voice: what a caller hears, and key presses.",
)
def simulate(phone: str, lang: str | None, inputs: tuple[str, ...], service_code: str, channel: str) -> None:
    """Walk the menus as a member would, over USSD, SMS or a voice call."""
    from gateway.phone import to_e164

    if to_e164(phone) is None:
        fail(f"--phone {phone!r} is not a phone number; try +12025550100")
    app = open_app()
    if lang and lang not in runtime_of(app).services.catalog.languages:
        fail(f"no language {lang!r}; use {', '.join(runtime_of(app).services.catalog.languages)}")
    if lang:
        runtime_of(app).conversations.default_language = lang
        runtime_of(app).ussd.default_language = lang
    if channel == "sms":
        texter = Texter(app, to_e164(phone), app.config["GATEWAY"].at_webhook_token)
        for typed in inputs:
            click.secho(f"> {typed}", fg="green")
            show_sms(texter.send(typed))
        while not inputs:
            try:
                typed = click.prompt("SMS>", default="", show_default=False)
            except (click.Abort, EOFError):
                click.echo()
                return
            show_sms(texter.send(typed))
        return
    if channel == "voice":
        _call(app, to_e164(phone), inputs)
        return
    handset = Phone(app.test_client(), phone, service_code, app.config["GATEWAY"].at_webhook_token)
    reply, screen = handset.dial(), 1
    show(reply, screen)
    if inputs:
        for typed in inputs:
            if reply.startswith("END"):
                click.secho("(session ended; dialling again)", fg="yellow")
                reply = handset.dial()
                screen += 1
                show(reply, screen)
            click.secho(f"> {typed}", fg="green")
            reply = handset.press(typed)
            screen += 1
            show(reply, screen)
        return
    while True:
        if reply.startswith("END"):
            if not click.confirm("Session ended. Dial again?", default=False):
                return
            reply = handset.dial()
        else:
            try:
                typed = click.prompt(">", default="", show_default=False)
            except (click.Abort, EOFError):
                click.echo()
                return
            reply = handset.press(typed)
        screen += 1
        show(reply, screen)


def _call(app, phone: str, inputs: tuple[str, ...]) -> None:
    caller = Caller(app, phone)
    step, number = caller.step(None, False), 1
    show_call(app, step, number)
    pending = list(inputs)
    while step.speech.digits or step.speech.record:
        if inputs:
            if not pending:
                return
            typed = pending.pop(0)
            click.secho(f"> {typed or '(silence)'}", fg="green")
        else:
            try:
                typed = click.prompt("keys>", default="", show_default=False)
            except (click.Abort, EOFError):
                click.echo()
                return
        step = caller.step(typed, step.speech.record)
        number += 1
        show_call(app, step, number)
