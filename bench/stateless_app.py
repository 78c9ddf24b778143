"""The framework's own cost, for bench/ussd.py's baseline: a Flask app that answers
every USSD hop with the same CON screen, with no state, no Redis and no database.
Served by the same gunicorn settings as the gateway, it is what a hop would cost if
the gateway did nothing at all."""

from flask import Flask, Response, request

SCREEN = "CON ສະບາຍດີ! ກະລຸນາພິມຊື່ຂອງທ່ານ:\n(English: 0)"


def create_app() -> Flask:
    app = Flask("stateless")

    @app.post("/ussd/africastalking")
    def ussd():
        request.form.get("text", "")  # parse the form, as the gateway must
        return Response(SCREEN, mimetype="text/plain")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
