"""The menu flows, each drawn as a diagram (SVG made by the gateway itself: no
script from the internet), with its hop budget and the channels it runs on."""

from __future__ import annotations

from flask import Response, abort, current_app, render_template
from markupsafe import Markup

from gateway.content import flowgraph
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import language


@bp.get("/flows")
@needs("read")
def flows():
    book = current_app.extensions["services"].book
    rows = [(name, flow.hop_budget, ", ".join(flow.channels or ()), len(flow.nodes))
            for name, flow in sorted(book.flows.items())]
    return render_template("dashboard/flows.html", rows=rows)


def _drawing(name: str) -> str:
    book = current_app.extensions["services"].book
    if name not in book.flows:
        abort(404)
    return flowgraph.svg(book, name, current_app.extensions["services"].catalog, language())


@bp.get("/flows/<name>")
@needs("read")
def flow(name: str):
    flow_row = current_app.extensions["services"].book.flows.get(name)
    # Our own SVG, every text in it escaped (flowgraph.py).
    drawing = Markup(_drawing(name))  # nosec B704
    return render_template("dashboard/flow.html", name=name, flow=flow_row, drawing=drawing)


@bp.get("/flows/<name>.svg")
@needs("read")
def flow_svg(name: str):
    return Response(_drawing(name), mimetype="image/svg+xml")
