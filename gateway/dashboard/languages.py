"""Adding a language: a catalog's description saved to the draft.

She gives the language's short code (``th``, ``km``, ``vi``, ``my``, ``hnj``), its
name in its own script, the digits its keypads send and the language to fall
back to. Published, it is a new column on the Content page, off the members'
language menu until every text is written (``content.languages``).
"""

from __future__ import annotations

import re

from flask import redirect, request, url_for
from flask_babel import gettext as _

from gateway.content import languages
from gateway.content.prompts import Catalog
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.content import _edition, say_problem
from gateway.dashboard.form import actor
from gateway.encoding import normalise_lao
from gateway.runtime import runtime
from gateway.store import audit
from gateway.store import content as versions

CODE = re.compile(r"^[a-z]{2,3}$")  # an ISO 639 code: what dates and numbers are formatted by


@bp.post("/content/languages")
@needs("send")
def content_language_add():
    edition = _edition()
    code = request.form.get("code", "").strip().lower()[:3]
    name = normalise_lao(request.form.get("name", "").strip())[:40]
    digits = request.form.get("digits", "").strip()[:10] or "0123456789"
    fallback = request.form.get("fallback", "")
    errors = []
    if not name:
        errors.append(_("Give the language's name in its own script, as its members will see it."))
    if not CODE.match(code):
        errors.append(_("The code is two or three lower-case letters, as th, km, vi or my."))
    elif code in edition.catalog.languages:
        errors.append(_("There is a %(code)s catalog already.", code=code))
    if fallback not in edition.catalog.languages:
        errors.append(_("Choose the language its members read where a text is not translated yet."))
    meta = {"catalog.name": name, "catalog.digits": digits, "catalog.fallback": fallback}
    if not errors:
        trial = Catalog({**edition.catalog.texts, code: meta})
        errors += [say_problem(p) for p in languages.problems(trial) if p.location.startswith(f"prompts/{code}")]
    if errors:
        return redirect(url_for("dashboard.content", notice=" ".join(errors)))
    with runtime().db.session() as db:
        for key, text in meta.items():
            versions.save_edit(db, code, key, text, None, actor())
        audit.record(db, actor(), "content.edit", f"prompts/{code}.yaml", "language added")
    return redirect(
        url_for(
            "dashboard.content",
            notice=_(
                "%(name)s is in the draft. Publish it, then translate its texts here: it joins the members' "
                "language menu when every text is written.",
                name=name,
            ),
        )
    )
