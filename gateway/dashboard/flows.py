"""The menu flows, each drawn as a diagram (SVG made by the gateway itself: no
script from the internet), with its hop budget and the channels it runs on.

A flow is named here by what it is for, in her language: a flow's file name
(``next_session``) is the developers' word, not hers. The Content page names where
each text is shown with the same words."""

from __future__ import annotations

from flask import Response, abort, render_template
from flask_babel import gettext as _
from markupsafe import Markup

from gateway.content import flowgraph, quiz, survey, usage
from gateway.dashboard.auth import bp, english_marked, needs
from gateway.dashboard.form import language
from gateway.runtime import runtime


def _flow_names() -> dict[str, str]:
    return {
        "main": _("Main menu"),
        "register": _("Registration"),
        "next_session": _("Next session"),
        "language": _("Changing language"),
        "polls": _("Polls by SMS"),
        "reminder_call": _("Reminder call"),
        "quizzes": _("List of quizzes"),
        "surveys": _("List of surveys"),
    }


def channel_names() -> dict[str, str]:
    return {"ussd": "USSD", "sms": "SMS", "voice": _("call")}


def _built_in_names() -> dict[str, str]:
    """The gateway's own texts, by their family (the key's first part)."""
    return {
        "format": _("dates and times"),
        "common": _("every menu"),
        "validate": _("asking again after a wrong answer"),
        "ussd": _("USSD screens"),
        "quiz": _("quizzes"),
        "sms": _("SMS replies"),
        "reminder": _("reminders"),
        "option": _("lists"),
        "poll": _("polls by SMS"),
        "feedback": _("the question after a session"),
        "report": _("printed reports"),
        "voice": _("calls"),
    }


def flow_name(book, catalog, name: str, lang: str) -> tuple[str, bool]:
    """What flow ``name`` is for, in ``lang``; and whether that is only its file name
    (a flow the dashboard has no words for), to be shown as an identifier."""
    known = _flow_names()
    if name in known:
        return known[name], False
    for entry in quiz.listed(book):
        if entry["flow"] == name:
            return _("Quiz: %(title)s", title=catalog.template(lang, entry["title"])), False
    for entry in survey.listed(book):
        if entry["flow"] == name:
            return _("Survey: %(title)s", title=catalog.template(lang, entry["title"])), False
    return name, True


def shown_in(book, catalog, key: str, uses: list[usage.Use], lang: str) -> list[tuple[str, bool]]:
    """Where text ``key`` is shown, in words: each flow once, with its channels; and
    whether that is only a flow's file name."""
    said, channels = {}, channel_names()
    for use in uses:
        if use.flow == usage.BUILT_IN:
            words, code = _built_in_names().get(key.split(".")[0], _("the gateway itself")), False
        else:
            words, code = flow_name(book, catalog, use.flow, lang)
        ways = ", ".join(channels.get(channel, channel) for channel in use.channels)
        said.setdefault(words, (f"{words} ({ways})" if ways and not code else words, code))
    return list(said.values())


@bp.get("/flows")
@needs("read")
def flows():
    found = runtime().services
    book, lang, channels = found.book, language(), channel_names()
    rows = [
        (
            name,
            *flow_name(book, found.catalog, name, lang),
            flow.hop_budget,
            ", ".join(channels.get(c, c) for c in flow.channels or ()),
            len(flow.nodes),
        )
        for name, flow in sorted(book.flows.items())
    ]
    return render_template("dashboard/flows.html", rows=rows)


def _drawing(name: str) -> str:
    found = runtime().services
    if name not in found.book.flows:
        abort(404)
    lang = language()
    words = flowgraph_words()
    for other in found.book.flows:
        title, code = flow_name(found.book, found.catalog, other, lang)
        if not code:
            words["flow:" + other] = title
    return flowgraph.svg(
        found.book, name, found.catalog, lang, words, lambda text: str(english_marked(text, lang, "tspan"))
    )


def flowgraph_words() -> dict[str, str]:
    """The diagram's words: each kind of step, and the ways on from an action."""
    return {
        "menu": _("menu"),
        "input": _("typed answer"),
        "end": _("end"),
        "condition": _("check"),
        "action": _("the gateway acts"),
        "multiselect": _("several choices"),
        "quiz_question": _("quiz question"),
        "quiz_score": _("quiz score"),
        "else": _("otherwise"),
        "found": _("found"),
        "none": _("none"),
        "some": _("some"),
        "enrolled": _("signed up"),
        "already": _("already"),
        "full": _("full"),
        "missing": _("not found"),
        "closed": _("closed"),
        "gone": _("gone"),
        "thanks": _("thanks"),
        "voted": _("answered"),
        "vote": _("answer"),
        "show": _("show"),
        "pick": _("choose"),
        "enrol": _("sign up"),
        "confirm": _("confirm"),
        "load": _("load"),
        "remind": _("remind"),
        "question": _("question"),
        "message": _("message"),
        "→": "→",
    }


@bp.get("/flows/<name>")
@needs("read")
def flow(name: str):
    found = runtime().services
    flow_row = found.book.flows.get(name)
    # Our own SVG, every text in it escaped (flowgraph.py).
    drawing = Markup(_drawing(name))  # nosec B704
    title, code = flow_name(found.book, found.catalog, name, language()) if flow_row else (name, True)
    return render_template(
        "dashboard/flow.html",
        name=name,
        title=title,
        title_is_code=code,
        flow=flow_row,
        drawing=drawing,
        channels=channel_names(),
    )


@bp.get("/flows/<name>.svg")
@needs("read")
def flow_svg(name: str):
    return Response(_drawing(name), mimetype="image/svg+xml")
