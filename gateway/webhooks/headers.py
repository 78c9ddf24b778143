"""Security headers on every answer, and ``Cache-Control: no-store`` on the dashboard.

Pages hold members' names and numbers, so none may be framed by another page
(clickjacking), cached by a shared browser or proxy, or run a script that did not
come from this gateway. The policy allows nothing inline: the dashboard's only
script and style are files under ``/static``. Behind https (``PUBLIC_BASE_URL`` or
a trusted proxy saying so) browsers are told to stay on https.

Webhook answers are read by providers, never shown by a browser, and a USSD hop
is counted in microseconds: they get none of this.
"""

from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# What a browser shows: the dashboard (with its static files) and /healthz.
PAGES = ("dashboard", "health")
# Long-lived and harmless to cache: the stylesheet, the script, the Lao font.
CACHEABLE = ("dashboard.static", "dashboard.font")


def init_app(app: Flask) -> None:
    https = app.config["GATEWAY"].public_base_url.startswith("https://")

    @app.after_request
    def _headers(response: Response) -> Response:
        if request.blueprint not in PAGES:
            return response
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CSP)
        if request.endpoint not in CACHEABLE:
            headers["Cache-Control"] = "no-store"
        if https or request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
