"""What providers post to us: each provider's blueprint (``providers/<name>/webhooks.py``),
on the plumbing they share here: the guard that checks their secret, keeping a text,
applying a report, answering a USSD hop or a call, and the refusals in each
channel's shape. Also ``/healthz`` and the recorded prompts calls play.

Every route: verify -> parse -> step -> persist -> enqueue -> render.
"""

from __future__ import annotations

from flask import Flask

from gateway.providers import parts


def init_app(app: Flask) -> None:
    from gateway.webhooks import audio, health

    for blueprint in (health.bp, audio.bp, *(module.bp for module in parts("webhooks"))):
        app.register_blueprint(blueprint)
