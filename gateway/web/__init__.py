"""Flask blueprints: verify -> parse -> step -> persist -> enqueue -> render."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from gateway.web import health, sms, status, ussd, voice

    for blueprint in (health.bp, ussd.bp, sms.bp, status.bp, voice.bp):
        app.register_blueprint(blueprint)
