"""``outreach simulate``: a phone in the terminal, over the real flows, database
and Redis. It posts exactly what Africa's Talking would post, so what you see is
what a member sees."""

from __future__ import annotations

import uuid

import click

from . import cli, fail, open_app


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
        response = self.client.post(self.url, data={
            "sessionId": self.session_id, "serviceCode": self.service_code,
            "phoneNumber": self.phone, "networkCode": "45701", "text": self.text})
        return response.get_data(as_text=True)


def show(reply: str, number: int) -> None:
    kind, _, body = reply.partition(" ")
    click.secho(f"── screen {number} ({kind}, {len(body)} chars) " + "─" * 20, fg="cyan")
    click.echo(body)


@cli.command()
@click.option("--phone", default="+8562055550100", show_default=True, help="Caller's number.")
@click.option("--lang", type=click.Choice(["lo", "en"]), default=None,
              help="Language for a member not yet registered (registered members keep theirs).")
@click.option("--input", "inputs", multiple=True,
              help="Scripted key presses, in order (repeat the option). Prints every screen.")
@click.option("--service-code", default="*384*1#", show_default=True)
def simulate(phone: str, lang: str | None, inputs: tuple[str, ...], service_code: str) -> None:
    """Walk the USSD menus as a member would."""
    from ..phone import to_e164

    if to_e164(phone) is None:
        fail(f"--phone {phone!r} is not a phone number; try +8562055550100")
    app = open_app()
    if lang:
        app.extensions["conversations"].default_language = lang
        app.extensions["ussd"].default_language = lang
    handset = Phone(app.test_client(), phone, service_code,
                    app.config["GATEWAY"].at_webhook_token)
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
