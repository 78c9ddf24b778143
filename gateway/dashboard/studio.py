"""The prompt studio: every prompt a call can play, recorded in the browser or
uploaded, with what is missing and what is outdated (its text changed after it was
recorded), and the live texts of upcoming sessions and open polls.

Recordings are converted on the server (``content.audio``: 8 kHz mono WAV, silence
trimmed, loudness evened) and kept by ``content.recordings``; a call plays them at
once. The browser records with MediaRecorder, which needs https (or localhost);
anywhere else the upload button works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.content.audio import convert
from gateway.content.prompt_audit import audit as prompt_audit
from gateway.content.recordings import MISSING, OUTDATED, RECORDED
from gateway.content import usage
from gateway.dashboard import flows
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import Pages, actor, csv_download, found, language, said_from, say, services
from gateway.errors import InputProblem
from gateway.phone import mask, to_e164
from gateway.runtime import runtime, runtime_of
from gateway.store import audit, live_texts

UPLOAD_LIMIT = 20 * 1024 * 1024  # a minute of uncompressed 48 kHz stereo is 11 MB


@dataclass
class Row:
    key: str
    where: str
    texts: dict = field(default_factory=dict)  # lang -> text
    numbers: dict = field(default_factory=dict)  # lang -> number to type by phone
    status: dict = field(default_factory=dict)  # lang -> recorded | outdated | missing
    files: dict = field(default_factory=dict)  # lang -> file name, when recorded
    live: bool = False
    shown: list = field(default_factory=list)  # where it is played, in words


def catalogue() -> list[Row]:
    """Every recordable text: the flows' prompts, then the live texts."""
    app = current_app
    recordings, catalog = runtime_of(app).audio, runtime_of(app).services.catalog
    rows: dict[str, Row] = {}
    for entry in prompt_audit(runtime_of(app).services.book, catalog, recordings).needed:
        row = rows.setdefault(entry.key, Row(entry.key, ", ".join(sorted(entry.where))[:120]))
        row.texts[entry.language], row.numbers[entry.language] = entry.text, entry.number
    with runtime_of(app).db.session() as db:
        for text in live_texts.current(db):
            row = rows.setdefault(text.key, Row(text.key, text.where, live=True))
            for lang in catalog.languages:
                row.texts[lang] = text.texts.get(lang) or next(iter(text.texts.values()), "")
                row.numbers[lang] = text.number
    for row in rows.values():
        for lang, text in row.texts.items():
            row.status[lang] = recordings.status(lang, row.key, text)
            row.files[lang] = recordings.file(lang, row.key)
    return list(rows.values())


_LIVE = [
    (re.compile(r"session (?P<n>\d+): title"), lambda m: _("the title of session %(number)s", number=m["n"])),
    (re.compile(r"poll (?P<code>\w+): question"), lambda m: _("the question of poll %(code)s", code=m["code"])),
    (
        re.compile(r"poll (?P<code>\w+): answer (?P<n>\d+)"),
        lambda m: _("answer %(number)s of poll %(code)s", number=m["n"], code=m["code"]),
    ),
]


def _shown(row: Row, uses: dict, lang: str) -> list[tuple[str, bool]]:
    """Where a recording is played, in words (as the Content page says it)."""
    if row.live:
        words = said_from(_LIVE, row.where)
        return [(words, False)] if words else [(row.where, True)]
    app = services()
    said = flows.shown_in(app.book, app.catalog, row.key, uses.get(row.key, []), lang)
    return said or [(_("every call"), False)]


def _text_of(lang: str, key: str) -> str | None:
    """The words a recording of ``key`` in ``lang`` is read from; None if calls never play it."""
    app = current_app
    if lang not in runtime_of(app).services.catalog.languages:
        return None
    if key.startswith("live."):
        with runtime_of(app).db.session() as db:
            text = live_texts.by_key(db, key)
        return (text.texts.get(lang) or next(iter(text.texts.values()), "")) if text else None
    entries = prompt_audit(
        runtime_of(app).services.book, runtime_of(app).services.catalog, runtime_of(app).audio
    ).needed
    return next((e.text for e in entries if e.key == key and e.language == lang), None)


@bp.get("/prompts")
@needs("read")
def studio():
    rows = catalogue()
    default = current_app.config["GATEWAY"].default_language
    languages = sorted(runtime().services.catalog.languages, key=lambda code: code != default)  # Lao first
    progress = {
        lang: {
            "recorded": sum(1 for r in rows if r.status.get(lang) == RECORDED),
            "outdated": sum(1 for r in rows if r.status.get(lang) == OUTDATED),
            "total": sum(1 for r in rows if lang in r.status),
        }
        for lang in languages
    }
    lang = request.args.get("lang") if request.args.get("lang") in languages else default
    wanted = request.args.get("status", "")
    words = request.args.get("q", "").strip().lower()[:80]
    shown = [
        r
        for r in rows
        if (not wanted or r.status.get(lang) == wanted)
        and (not words or words in r.key.lower() or any(words in t.lower() for t in r.texts.values()))
    ]
    pages = Pages.of(len(shown), size=40)
    uses, reader = usage.uses(services().book), language()
    for row in shown[pages.offset : pages.offset + pages.size]:
        row.shown = _shown(row, uses, reader)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "dashboard/studio.html",
        rows=shown[pages.offset : pages.offset + pages.size],
        pages=pages,
        query=query,
        progress=progress,
        languages=languages,
        lang=lang,
        wanted=wanted,
        statuses={RECORDED: _("recorded"), OUTDATED: _("outdated"), MISSING: _("missing")},
        phone_ready=bool(current_app.config["GATEWAY"].studio_pin),
    )


@bp.post("/prompts/<lang>/<key>")
@needs("send")
def studio_record(lang: str, key: str):
    """A recording for ``key`` in ``lang``: from the browser's recorder or a file."""
    wants_json = request.accept_mimetypes.best == "application/json"
    text = found(_text_of(lang, key))
    upload = request.files.get("audio")
    data = upload.read(UPLOAD_LIMIT + 1) if upload else b""
    try:
        if len(data) > UPLOAD_LIMIT:
            raise InputProblem("the file is larger than 20 MB")
        clip = convert(data)
    except InputProblem as problem:
        message = say(problem)
        if wants_json:
            return jsonify(ok=False, error=message), 400
        return render_template("dashboard/message.html", title=_("Not saved"), text=message), 400
    runtime().audio.save(
        lang,
        key,
        clip.wav,
        text=text,
        by=actor(),
        source="upload" if upload.filename and upload.filename != "blob" else "browser",
        seconds=clip.seconds,
    )
    with runtime().db.session() as db:
        audit.record(db, actor(), "prompt.record", f"{lang}/{key}", f"{clip.seconds} s")
    if wants_json:
        return jsonify(
            ok=True, seconds=clip.seconds, status=RECORDED, url=url_for("audio.audio", lang=lang, name=f"{key}.wav")
        )
    return redirect(url_for("dashboard.studio", q=key, lang=lang))


@bp.get("/prompts/script.csv")
@needs("read")
def studio_script():
    """The numbered list to record from by phone, in one language: what the phone
    studio asks her to type, with each text's words and where it is played."""
    languages = runtime().services.catalog.languages
    lang = request.args.get("lang")
    lang = lang if lang in languages else current_app.config["GATEWAY"].default_language
    uses, reader = usage.uses(services().book), language()
    statuses = {RECORDED: _("recorded"), OUTDATED: _("outdated"), MISSING: _("missing")}
    rows = sorted((row for row in catalogue() if lang in row.texts), key=lambda row: row.numbers[lang])
    lines = [[_("Number to type"), _("Text"), _("Used in"), _("Status")]]
    lines += [
        [
            row.numbers[lang],
            row.texts[lang],
            "; ".join(words for words, _code in _shown(row, uses, reader)),
            statuses.get(row.status[lang], ""),
        ]
        for row in rows
    ]
    return csv_download(lines, f"recording-script-{lang}.csv")


@bp.post("/prompts/call")
@needs("send")
def studio_call():
    """Call her, to record by phone: the call opens on the studio's PIN question."""
    phone = to_e164(request.form.get("phone", ""))
    if phone is None:
        return render_template(
            "dashboard/message.html",
            title=_("Not called"),
            text=_("That is not a phone number. Write it like 020 5551 2345."),
        ), 400
    app_services = services()
    base = app_services.config.public_base_url.rstrip("/")
    outcome = app_services.provider.call(phone, f"{base}/voice/twilio", f"{base}/status/twilio")
    if not outcome.accepted or not outcome.provider_message_id:
        return render_template(
            "dashboard/message.html",
            title=_("Not called"),
            text=_("The provider did not place the call: %(error)s", error=outcome.error or "?"),
        ), 502
    runtime().studio.begin(app_services.provider.name, outcome.provider_message_id)
    with runtime().db.session() as db:
        audit.record(db, actor(), "prompt.call_me", mask(phone))
    return render_template(
        "dashboard/message.html",
        title=_("Calling you"),
        text=_("Your phone will ring in a moment. Type the studio PIN when asked."),
    )
