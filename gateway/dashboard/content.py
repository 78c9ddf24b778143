"""Content: the wording editor, preview, publish, history and revert.

Every text members read and hear, in each language side by side, named by what it
says and where it is shown (a key is the files' word, not hers). An organiser changes a text and saves it to the shared draft
(``content_edits``); she previews the draft in the simulator on her own test
number; an editor or an admin publishes it, which runs every check a version must
pass (``content.review``) and says each refusal in her language. Two people who
change the same text get a conflict showing both, never a silent overwrite: each
form carries the text she started from. History shows who changed a text, when,
and how; one text or a whole version can be put back.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import PurePosixPath
from string import Formatter

from flask import current_app, g, jsonify, redirect, render_template, request, url_for
from babel.dates import format_datetime
from flask_babel import gettext as _

from gateway.channels.ussd.pages import PageLimits
from gateway.content import glossary, languages, library, publication, usage, wording
from gateway.content.edition import Edition
from gateway.content.flows import Problem
from gateway.dashboard import flows
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.form import actor, found, language, said_from, services
from gateway.dashboard.simulator import test_number
from gateway.encoding import normalise_lao
from gateway.runtime import runtime
from gateway.store import audit
from gateway.store import content as versions
from gateway.store.users import can

SOURCE = "dashboard"


def _edition() -> Edition:
    return services().library.current()


def _limits() -> PageLimits:
    config = current_app.config["GATEWAY"]
    return PageLimits(config.ussd_page_gsm7, config.ussd_page_ucs2)


def _desk() -> publication.Desk:
    return publication.Desk.of(services())


def say_problem(problem: Problem) -> str:
    """A check's problem in her language (the templates are in the dashboard's catalog)."""
    if problem.template:
        return _(problem.template, **problem.values)
    return problem.message


def _refused(problems: list[Problem], back_to: str):
    """Why nothing was published, each problem in her language with the text to fix."""
    shown = [(p.values.get("key"), p.location, say_problem(p)) for p in problems if p.severity == "error"]
    return render_template("dashboard/content_refused.html", problems=shown, back_to=back_to), 400


@dataclass
class Row:
    key: str
    texts: dict  # language -> published text
    drafts: dict  # language -> the draft's text, where one is waiting
    shown: list  # where it is shown, in words (flows.shown_in)
    flags: list
    voice: dict  # language -> the call's wording, where it differs
    examples: dict  # language -> the date a date pattern makes


def _rows(edition: Edition, edits) -> list[Row]:
    """Every text members meet. A language's own name, digits and fallback are the
    Languages panel's, not texts."""
    catalog, used, lang = edition.catalog, usage.uses(edition.book), language()
    pending: dict[str, dict[str, str]] = {}
    for row in edits:
        if row.language:  # (a whole quiz document is the quiz builder's)
            pending.setdefault(row.key, {})[row.language] = row.text
    keys = sorted(
        {key for texts in catalog.texts.values() for key in texts if not key.endswith(wording.VOICE)} | set(pending)
    )
    rows = []
    for key in keys:
        if key.startswith(CATALOG):
            continue
        texts = {lang: catalog.texts[lang].get(key) for lang in catalog.languages}
        voice = {
            lang: catalog.texts[lang][key + wording.VOICE]
            for lang in catalog.languages
            if key + wording.VOICE in catalog.texts[lang]
        }
        checked = pending.get(key, {}).get(glossary.LANGUAGE, texts.get(glossary.LANGUAGE) or "")
        rows.append(
            Row(
                key,
                texts,
                pending.get(key, {}),
                flows.shown_in(edition.book, catalog, key, used.get(key, []), lang),
                glossary.flags(checked),
                voice,
                {lang: example(edition, key, lang, texts.get(lang)) for lang in texts},
            )
        )
    return rows


CATALOG = "catalog."  # a language's name, digits and fallback
PATTERN = "format."  # a date pattern (Unicode's): shown as the date it makes
_SAMPLE = datetime(2027, 1, 11, 7, 0, tzinfo=timezone.utc)  # a Monday, 14:00 in Vientiane


def example(edition: Edition, key: str, lang: str, text: str | None) -> str | None:
    """What a date pattern makes of a sample date; None for other texts (or a pattern
    that does not work, which publishing refuses with its reason)."""
    if not key.startswith(PATTERN) or not text:
        return None
    try:
        return format_datetime(_SAMPLE, text, tzinfo=edition.catalog.zone, locale=lang)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# What the gateway writes as a version's note, said in her language when shown. A
# note someone typed (``outreach content import --note``) is shown as typed.
_NOTES = [
    (re.compile(r"(?P<n>\d+) text\(s\) changed"), lambda m: _("%(count)s text(s) changed", count=m["n"])),
    (re.compile(r"what version (?P<n>\d+) held"), lambda m: _("what version %(number)s held", number=m["n"])),
    (re.compile(r"the content this release ships"), lambda m: _("the texts this release of the gateway ships")),
    (
        re.compile(r"the content of this release \(published: this install had not edited its content\)"),
        lambda m: _("the texts of this release, published because no text here had been changed"),
    ),
    (
        re.compile(r"the content of this release, offered: your edits stay published until you publish this"),
        lambda m: _("the texts of this release, offered: yours stay published until you publish these"),
    ),
]


def version_words(row) -> dict:
    """Who made a version and its note, in her language where the gateway wrote them."""
    author = _("this release of the gateway") if row.author == library.SHIPPED_BY else row.author
    note = said_from(_NOTES, row.note)
    return {"author": author, "note": note or row.note or "", "typed": note is None and bool(row.note)}


def text_title(edition: Edition, key: str, drafts: dict | None = None) -> str:
    """A text named by what it says, in her language (or the first that has it),
    shortened to a line."""
    lang, catalog, drafts = language(), edition.catalog, drafts or {}
    said = next(
        (
            text
            for other in [lang] + _languages(edition)
            if (text := drafts.get(other) or catalog.texts.get(other, {}).get(key))
        ),
        "",
    )
    said = example(edition, key, lang, said) or said
    said = " ".join((said or "").split())
    return said if len(said) <= 70 else said[:69] + "…"


def draft_names(edition: Edition, edits) -> list[dict]:
    """The draft's changes, each named in words with where it is edited: a text by
    what it says, a language by its name, a quiz or a survey by its title."""
    named, seen = [], set()
    for row in edits:
        if row.key.startswith(CATALOG):  # a language being added has its name only in the draft
            named_as = next(
                (edit.text for edit in edits if edit.key == CATALOG + "name" and edit.language == row.language), None
            ) or edition.catalog.name(row.language)
            entry = {
                "words": _("the language %(name)s", name=named_as),
                "code": "",
                "link": url_for("dashboard.content") + "#languages",
            }
        elif row.language:
            entry = {
                "words": text_title(edition, row.key, {row.language: row.text}),
                "code": "",
                "link": url_for("dashboard.content_text", key=row.key),
            }
        else:
            kind, _sep, name = row.key.partition("/")
            name = name.removesuffix(".yaml")
            endpoint = "dashboard.content_survey_edit" if kind == "surveys" else "dashboard.content_quiz_edit"
            entry = {
                "words": _("survey") if kind == "surveys" else _("quiz"),
                "code": name,
                "link": url_for(endpoint, name=name),
            }
        entry["author"] = row.author
        if (entry["words"], entry["code"]) not in seen:
            seen.add((entry["words"], entry["code"]))
            named.append(entry)
    return named


def _languages(edition: Edition) -> list[str]:
    """Each catalog's code, in the language menu's order (Lao, English, then others)."""
    return [lang.code for lang in languages.described(edition.book, edition.catalog)]


@bp.get("/content")
@needs("read")
def content():
    edition = _edition()
    query = request.args.get("q", "").strip()[:100]
    with runtime().db.session() as db:
        edits = versions.edits(db)
        offered = [row for row in versions.drafts(db) if row.source == "shipped"]
        offered = [(row.id, row.created_at) for row in offered]
        db.expunge_all()
    rows = _rows(edition, edits)
    if query:
        folded = normalise_lao(query).casefold()
        rows = [
            row
            for row in rows
            if folded in row.key.casefold()
            or any(folded in (text or "").casefold() for text in list(row.texts.values()) + list(row.drafts.values()))
        ]
    return render_template(
        "dashboard/content.html",
        rows=rows,
        languages=_languages(edition),
        query=query,
        described=languages.described(edition.book, edition.catalog),
        on_menu=set(edition.book.lists[languages.LIST].items),
        edits=edits,
        draft=draft_names(edition, edits),
        version=edition.number,
        offered=offered,
        may_publish=can(g.user, "publish"),
        notice=request.args.get("notice"),
        back_to=url_for("dashboard.content"),
    )


def _known(edition: Edition, key: str) -> bool:
    """Whether ``key`` is a text of the published content (the editor changes texts; it
    does not invent keys no flow shows)."""
    return any(edition.catalog.has(lang, key) for lang in edition.catalog.languages)


def _text_page(key: str, form=None, errors=None, conflicts=None, status=200):
    edition = _edition()
    used = usage.uses(edition.book).get(key, [])
    known = _known(edition, key)
    with runtime().db.session() as db:
        pending = {row.language: row for row in versions.edits(db) if row.key == key}
        db.expunge_all()
        history = _key_history(db, key, edition)
    if not known and not pending:
        return found(None)
    languages = _languages(edition)
    current = {
        lang: pending[lang].text if lang in pending else edition.catalog.texts[lang].get(key, "") for lang in languages
    }
    measures = {
        lang: measure_lines(wording.measure(edition, key, lang, (form or current).get(lang, ""), _limits()), edition)
        for lang in languages
    }
    voice = {lang: edition.catalog.texts[lang].get(key + wording.VOICE) for lang in languages}
    examples = {lang: example(edition, key, lang, (form or current).get(lang)) for lang in languages}
    return render_template(
        "dashboard/content_text.html",
        key=key,
        languages=languages,
        examples=examples,
        pattern=key.startswith(PATTERN),
        title=text_title(edition, key),
        used=flows.shown_in(edition.book, edition.catalog, key, used, language()),
        current=current,
        form=form or current,
        pending=pending,
        measures=measures,
        voice=voice,
        errors=errors or {},
        conflicts=conflicts or {},
        history=history,
        published={lang: edition.catalog.texts[lang].get(key, "") for lang in languages},
        may_publish=can(g.user, "publish"),
        back_to=url_for("dashboard.content_text", key=key),
    ), status


@bp.get("/content/text/<key>")
@needs("read")
def content_text(key: str):
    return _text_page(key)


@bp.post("/content/text/<key>")
@needs("send")
def content_save(key: str):
    """Save her texts for ``key`` to the draft, unless someone changed one meanwhile."""
    edition = _edition()
    if not _known(edition, key):
        return found(None)
    languages = _languages(edition)
    form = {lang: normalise_lao(request.form.get(f"text_{lang}", "").strip()) for lang in languages}
    bases = {lang: normalise_lao(request.form.get(f"base_{lang}", "").strip()) for lang in languages}
    errors = _text_errors(edition, key, form)
    if errors:
        return _text_page(key, form, errors, status=400)
    with runtime().db.session() as db:
        conflicts, changed = {}, []
        for lang in languages:
            published = edition.catalog.texts[lang].get(key, "")
            pending = versions.edit(db, lang, key)
            now = pending.text if pending is not None else published
            if form[lang] == now:
                continue
            if bases[lang] != now and request.form.get("overwrite") != "yes":
                conflicts[lang] = (now, pending.author if pending is not None else None)
                continue
            changed.append(lang)
            if form[lang] == published:
                versions.drop_edit(db, lang, key)
            else:
                versions.save_edit(db, lang, key, form[lang], published, actor())
        if conflicts:
            db.rollback()
            return _text_page(key, form, conflicts=conflicts, status=409)
        if changed:
            audit.record(db, actor(), "content.edit", f"text {key}"[:80], ", ".join(changed))
    return redirect(url_for("dashboard.content_text", key=key, saved=1))


def _text_errors(edition: Edition, key: str, form: dict) -> dict:
    """What is wrong with her texts before they can be saved at all."""
    errors = {}
    english = edition.catalog.placeholders("en", key) if edition.catalog.has("en", key) else None
    for lang, text in form.items():
        if len(text) > wording.MAX_TEXT:
            errors[lang] = _("At most %(count)s characters.", count=wording.MAX_TEXT)
            continue
        if not text and edition.catalog.has(lang, key):
            errors[lang] = _("A text cannot be empty.")
            continue
        try:
            names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
        except ValueError:
            errors[lang] = _("A { or } does not match. Blanks are written {name}.")
            continue
        if english is not None and names - english:
            errors[lang] = _(
                "This text uses a blank the English does not have: %(names)s. Blanks it may use: %(known)s.",
                names=", ".join("{%s}" % n for n in sorted(names - english)),
                known=", ".join("{%s}" % n for n in sorted(english)) or _("none"),
            )
    return errors


@bp.post("/content/measure")
@needs("send")
def content_measure():
    """How a text she is typing fits its screens, by the server's own measures."""
    edition = _edition()
    key, lang = request.form.get("key", "")[:120], request.form.get("lang", "")[:16]
    text = request.form.get("text", "")[: wording.MAX_TEXT * 2]
    if lang not in edition.catalog.languages:
        return jsonify(error=_("Unknown language.")), 400
    measured = wording.measure(edition, key, lang, text, _limits())
    return jsonify(
        fits=measured.fits, lines=[{"text": text, "bad": bad} for text, bad in measure_lines(measured, edition)]
    )


def measure_lines(measured: wording.Measure, edition: Edition) -> list[tuple[str, bool]]:
    """The counter under a text box, in her language: (line, whether it is a problem)."""
    lang, alphabets = language(), {"GSM-7": _("Latin letters"), "UCS-2": _("Lao letters")}

    def where(use: str) -> str:
        return flows.flow_name(edition.book, edition.catalog, use.split(":")[0], lang)[0]

    lines = [(_("%(count)s characters", count=len(measured.text)), False)]
    if measured.too_long:
        lines.append((_("At most %(count)s characters.", count=wording.MAX_TEXT), True))
    for screen in measured.screens[:4]:
        lines.append(
            (
                f"USSD · {where(screen.where)}: "
                + _(
                    "page 1: %(used)s of %(limit)s (%(encoding)s), %(pages)s page(s)",
                    used=screen.first_page,
                    limit=screen.limit,
                    encoding=alphabets.get(screen.encoding, screen.encoding),
                    pages=len(screen.pages),
                ),
                False,
            )
        )
        if screen.problems:
            lines.append((_("Options are not on the first page. Shorten the text."), True))
    for use, parts, _encoding in measured.sms[:2]:
        lines.append((f"SMS · {where(use)}: " + _("%(parts)s part(s)", parts=parts), False))
    for flag in measured.flags:
        lines.append((_("The glossary says %(instead)s, not %(word)s.", instead=flag.instead, word=flag.word), True))
    return lines


def _draft_version(db, edition: Edition) -> tuple[int, list]:
    """The published version with every waiting edit written in, saved as a draft
    (the editors' previous one is replaced)."""
    edits = versions.edits(db)
    for row in versions.drafts(db):
        if row.source == SOURCE and row.author == actor():  # her earlier preview; another's may be publishing
            versions.discard(db, row.id)
    docs = wording.apply(edition.documents, [(row.language, row.key, row.text) for row in edits if row.language])
    for row in edits:
        if not row.language:  # a whole document (a quiz from the builder); empty: removed
            if row.text:
                docs[row.key] = row.text
            else:
                docs.pop(row.key, None)
    row = versions.add(
        db,
        docs,
        SOURCE,
        actor(),
        f"{len(edits)} text(s) changed",  # said in words by version_note
        based_on=edition.number,
    )
    return row.id, edits


@bp.post("/content/preview")
@needs("send")
def content_preview():
    """Run the draft on her test number in the simulator (for two hours)."""
    edition = _edition()
    with runtime().db.session() as db:
        number, _edits = _draft_version(db, edition)
    services().library.show_preview(test_number(), number)
    return redirect(url_for("dashboard.simulator", preview=number))


@bp.post("/content/preview/stop")
@needs("send")
def content_preview_stop():
    services().library.show_preview(test_number(), None)
    return redirect(url_for("dashboard.simulator"))


@bp.post("/content/publish")
@needs("publish")
def content_publish():
    """Check the draft and publish it; refused, she sees every reason."""
    edition = _edition()
    with runtime().db.session() as db:
        if not versions.edits(db):
            return redirect(url_for("dashboard.content", notice=_("Nothing to publish: no text is changed.")))
        number, edits = _draft_version(db, edition)
        db.expunge_all()
    outcome = publication.publish(_desk(), number, actor())
    if not outcome.published:
        with runtime().db.session() as db:
            versions.discard(db, number)  # her edits stay; the version made from them goes
        return _refused(outcome.problems, url_for("dashboard.content"))
    with runtime().db.session() as db:
        versions.clear_edits(db, edits)
    services().library.show_preview(test_number(), None)
    return redirect(
        url_for(
            "dashboard.content",
            notice=_("Version %(number)s is published. Members see it from their next screen.", number=number),
        )
    )


@bp.post("/content/discard")
@needs("send")
def content_discard():
    with runtime().db.session() as db:
        edits = versions.edits(db)
        versions.clear_edits(db, edits)
        if edits:
            audit.record(db, actor(), "content.discard", "draft", f"{len(edits)} text(s)")
    return redirect(url_for("dashboard.content", notice=_("The draft is discarded.")))


@bp.post("/content/text/<key>/restore/<int:number>")
@needs("send")
def content_restore(key: str, number: int):
    """Put version ``number``'s texts of ``key`` in the draft (published with the next publish)."""
    edition = _edition()
    if not _known(edition, key):
        return found(None)
    with runtime().db.session() as db:
        docs = versions.documents(db, number)
        if not docs:
            return found(None)
        for lang in _languages(edition):
            old = wording.flatten(docs, lang).get(key)
            published = edition.catalog.texts[lang].get(key, "")
            if old is None:
                continue
            if old == published:
                versions.drop_edit(db, lang, key)
            else:
                versions.save_edit(db, lang, key, old, published, actor())
        audit.record(db, actor(), "content.edit", f"text {key}"[:80], f"as in version {number}")
    return redirect(url_for("dashboard.content_text", key=key, saved=1))


@bp.get("/content/versions")
@needs("read")
def content_versions():
    with runtime().db.session() as db:
        rows = versions.history(db, 100)
        db.expunge_all()
    return render_template(
        "dashboard/content_versions.html",
        rows=rows,
        said=version_words,
        may_publish=can(g.user, "publish"),
        notice=request.args.get("notice"),
        back_to=url_for("dashboard.content_versions"),
    )


@bp.get("/content/versions/<int:number>")
@needs("read")
def content_version(number: int):
    with runtime().db.session() as db:
        row = found(versions.get(db, number))
        db.expunge(row)
        docs = versions.documents(db, number)
        before = versions.documents(db, row.based_on) if row.based_on else {}
    lines = publication.diff(before, docs, f"v{row.based_on or 0}", f"v{number}").splitlines()
    return render_template(
        "dashboard/content_version.html",
        row=row,
        said=version_words(row),
        lines=lines,
        texts=_text_changes(before, docs) if before else [],
        documents=_document_changes(before, docs) if before else [],
        may_publish=can(g.user, "publish"),
        back_to=url_for("dashboard.content_versions"),
    )


@bp.post("/content/versions/<int:number>/revert")
@needs("publish")
def content_revert(number: int):
    outcome = publication.revert(_desk(), number, actor())
    if not outcome.published:
        return _refused(outcome.problems, url_for("dashboard.content_versions"))
    return redirect(
        url_for(
            "dashboard.content_versions",
            notice=_("Version %(new)s is published: what version %(old)s held.", new=outcome.number, old=number),
        )
    )


@bp.post("/content/versions/<int:number>/publish")
@needs("publish")
def content_publish_offered(number: int):
    """Publish a draft as it is (the content a new release offers)."""
    outcome = publication.publish(_desk(), number, actor())
    if not outcome.published:
        return _refused(outcome.problems, url_for("dashboard.content_versions"))
    return redirect(
        url_for(
            "dashboard.content_versions",
            notice=_("Version %(number)s is published. Members see it from their next screen.", number=number),
        )
    )


def _key_history(db, key: str, edition: Edition) -> list[dict]:
    """Each published version that changed ``key``: who, when, and how (newest first)."""
    published = [row for row in reversed(versions.history(db, 100)) if row.published_at is not None]
    out, before = [], None
    for row in published:
        docs = versions.documents(db, row.id)
        texts = {lang: wording.flatten(docs, lang).get(key) for lang in edition.catalog.languages}
        if before is not None and texts != before:
            changes = [
                (
                    lang,
                    before.get(lang) or "",
                    texts.get(lang) or "",
                    _inline_diff(before.get(lang) or "", texts.get(lang) or ""),
                )
                for lang in _languages(edition)
                if before.get(lang) != texts.get(lang)
            ]
            out.append(
                {"number": row.id, "author": row.author, "at": row.published_at, "note": row.note, "changes": changes}
            )
        before = texts
    return list(reversed(out))


def _text_changes(before: dict, after: dict) -> list[dict]:
    """The texts a version changes, each named by what it says, with how."""
    edition = _edition()
    order = _languages(edition)
    langs = sorted(
        {PurePosixPath(name).stem for name in list(before) + list(after) if name.startswith("prompts/")},
        key=lambda code: order.index(code) if code in order else len(order),
    )
    old = {lang: wording.flatten(before, lang) for lang in langs}
    new = {lang: wording.flatten(after, lang) for lang in langs}
    keys = sorted(
        {
            key
            for lang in langs
            for key in set(old[lang]) | set(new[lang])
            if old[lang].get(key) != new[lang].get(key) and not key.startswith(CATALOG)
        }
    )
    return [
        {
            "key": key,
            "title": text_title(edition, key, {lang: new[lang].get(key) or "" for lang in langs}),
            "changes": [
                (lang, _inline_diff(old[lang].get(key) or "", new[lang].get(key) or ""))
                for lang in langs
                if old[lang].get(key) != new[lang].get(key)
            ],
        }
        for key in keys
    ]


def _document_changes(before: dict, after: dict) -> list[dict]:
    """The quizzes and surveys a version adds, changes or removes."""
    found = []
    for name in sorted(set(before) | set(after)):
        kind, _sep, rest = name.partition("/")
        if kind in ("quizzes", "surveys") and before.get(name) != after.get(name):
            state = _("added") if name not in before else _("removed") if name not in after else _("changed")
            found.append(
                {
                    "words": _("quiz") if kind == "quizzes" else _("survey"),
                    "code": rest.removesuffix(".yaml"),
                    "state": state,
                }
            )
    return found


def _inline_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, piece) for what changed between two texts, letter by letter: "-", "+", "="."""
    pieces = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("=", old[a1:a2]))
            continue
        if a2 > a1:
            pieces.append(("-", old[a1:a2]))
        if b2 > b1:
            pieces.append(("+", new[b1:b2]))
    return pieces
