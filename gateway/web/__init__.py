"""Flask blueprints: verify -> parse -> step -> persist -> enqueue -> render."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import health, ussd

    app.register_blueprint(health.bp)
    app.register_blueprint(ussd.bp)
