"""Members: find (by name or the last digits of her number), filter, read one,
edit, erase, import a CSV and export one.

The list is one indexed count and one page of 50 rows (topics for those 50 in one
more query), so it stays fast at 100,000 members (``bench/members_page.py``).
Numbers are masked in the list; her page shows the whole number to those who may
edit her.
"""

from __future__ import annotations

import csv
import re
from zoneinfo import ZoneInfo

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import false, func, or_, select

from gateway.channels.erasure import erase_member
from gateway.content.vocabulary import Vocabulary
from gateway.dashboard import audit as audit_page
from gateway.dashboard.auth import LANGUAGES, bp, needs
from gateway.dashboard.form import Pages, actor, choices, csv_download, found, label, say, services
from gateway.errors import ImportRowError, InputProblem
from gateway.phone import is_fictional, mask
from gateway.runtime import runtime
from gateway.store import audit, privacy
from gateway.store import users as accounts
from gateway.store import members as store
from gateway.store.csvfile import decode, rows_from_text
from gateway.store.models import AuditEvent, InboundMessage, Member, MemberTopic

STATUSES = ("registered", "not_registered", "opted_out")
IMPORT_LIMIT = 10 * 1024 * 1024  # a 10 MB CSV holds ~100,000 members


def _filters(args, by_number: bool) -> list:
    """The WHERE of the list: her search words and the chosen filters. Only someone
    who may see numbers may search by them: a viewer trying last digits one at a
    time would otherwise read the numbers the list masks for her."""
    where = [Member.erased_at.is_(None)]
    words = args.get("q", "").strip()[:80]
    digits = re.sub(r"[\s\-+().]", "", words)
    if digits.isdigit() and not by_number:
        where.append(false())
    elif digits.isdigit() and len(digits) >= 3:
        # Numbers are stored +856..., so "last digits" is a suffix match.
        where.append(Member.phone.like(f"%{digits[-9:]}"))
    elif words:
        pattern = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(
                func.lower(Member.name).like(pattern, escape="\\"),
                func.lower(Member.organisation).like(pattern, escape="\\"),
            )
        )
    if args.get("province"):
        where.append(Member.province == args["province"])
    if args.get("language"):
        where.append(Member.language == args["language"])
    if args.get("topic"):
        where.append(Member.id.in_(select(MemberTopic.member_id).where(MemberTopic.topic == args["topic"])))
    status = args.get("status")
    if status == "registered":
        where += [Member.consent_at.is_not(None), Member.opted_out_at.is_(None)]
    elif status == "not_registered":
        where.append(Member.consent_at.is_(None))
    elif status == "opted_out":
        where.append(Member.opted_out_at.is_not(None))
    return where


@bp.get("/members")
@needs("read")
def members():
    where = _filters(request.args, accounts.can(g.user, "see_numbers"))
    with runtime().db.session() as db:
        total = db.scalar(select(func.count(Member.id)).where(*where)) or 0
        pages = Pages.of(total)
        listed = select(
            Member.id,
            Member.name,
            Member.phone,
            Member.organisation,
            Member.province,
            Member.language,
            Member.consent_at,
            Member.opted_out_at,
        ).where(*where)
        if pages.offset <= total // 2:
            rows = db.execute(listed.order_by(Member.id.desc()).limit(pages.size).offset(pages.offset)).all()
        else:  # the far half read from its own end: the last of a million pages is as quick as the first
            shown = min(pages.size, total - pages.offset)
            from_start = listed.order_by(Member.id.asc()).limit(shown).offset(total - pages.offset - shown)
            rows = list(reversed(db.execute(from_start).all()))
        topics: dict[int, list[str]] = {}
        for member_id, topic in db.execute(
            select(MemberTopic.member_id, MemberTopic.topic).where(MemberTopic.member_id.in_([r.id for r in rows]))
        ):
            topics.setdefault(member_id, []).append(label("topics", topic))
    shown = [
        {
            "id": r.id,
            "name": r.name or "—",
            "phone": mask(r.phone),
            "organisation": r.organisation or "",
            "province": label("provinces", r.province),
            "language": label("languages", r.language),
            "topics": ", ".join(topics.get(r.id, [])),
            "status": _status(r),
        }
        for r in rows
    ]
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "dashboard/members.html",
        rows=shown,
        pages=pages,
        query=query,
        args=request.args,
        provinces=choices("provinces"),
        languages=choices("languages"),
        topics=choices("topics"),
        statuses=_status_names(),
    )


def _status(row) -> str:
    if row.phone and is_fictional(row.phone):  # the simulator's: never in an audience, never reminded
        return _("test member (simulator): never sent to")
    if row.opted_out_at is not None:
        return _("opted out")
    return _("registered") if row.consent_at is not None else _("not registered")


def _status_names() -> list[tuple[str, str]]:
    return [("registered", _("registered")), ("not_registered", _("not registered")), ("opted_out", _("opted out"))]


def _member(db, member_id: int) -> Member:
    member = found(db.get(Member, member_id))
    return found(None) if member.erased_at is not None else member


@bp.get("/members/<int:member_id>")
@needs("read")
def member(member_id: int):
    with runtime().db.session() as db:
        row = _member(db, member_id)
        history = _history(db, row)
        data = _profile(db, row)
    return render_template(
        "dashboard/member.html", member=data, history=history, values=_values_of(data), errors={}, **_form_choices()
    )


def _history(db, row: Member) -> list[tuple]:
    """Her consent and opt-out history, oldest first: registration, each STOP and
    START she texted, and what organisers changed."""
    events = []
    if row.consent_at:
        events.append((row.consent_at, _("Gave consent (registered)"), ""))
    for at, keyword in db.execute(
        select(InboundMessage.received_at, InboundMessage.keyword).where(
            InboundMessage.member_id == row.id, InboundMessage.keyword.in_(("stop", "start"))
        )
    ):
        events.append((at, _("Texted STOP: opted out") if keyword == "stop" else _("Texted START: opted back in"), ""))
    if row.opted_out_at and not any(e[0] == row.opted_out_at for e in events):
        events.append((row.opted_out_at, _("Opted out"), ""))
    names = audit_page.action_names()
    for event in db.scalars(select(AuditEvent).where(AuditEvent.subject == f"member {row.id}")):
        said, _english = audit_page.detail(event.action, event.detail)
        what = names.get(event.action, event.action)
        events.append((event.at, f"{what}: {said}" if said else what, audit_page.actor(event.actor)))
    return sorted(events, key=lambda e: e[0])


def _profile(db, row: Member) -> dict:
    """What her page shows: her fields and how much we hold about her. A viewer sees
    her number masked, as the list does."""
    data = privacy.report(db, row)
    data.update(
        consent_at=row.consent_at,
        opted_out_at=row.opted_out_at,
        phone=row.phone if accounts.can(g.user, "see_numbers") else mask(row.phone),
    )
    return data


def _values_of(data: dict) -> dict:
    return {
        "name": data["name"] or "",
        "organisation": data["organisation"] or "",
        "province": data["province"] or "",
        "language": data["language"],
        "topics": list(data["topics"]),
        "reminders_by": data["reminders_by"],
    }


def _form_choices() -> dict:
    return {"provinces": choices("provinces"), "languages": choices("languages"), "topics": choices("topics")}


@bp.post("/members/<int:member_id>")
@needs("send")
def member_edit(member_id: int):
    form = request.form
    values = {
        "name": form.get("name", "").strip(),
        "organisation": form.get("organisation", "").strip(),
        "province": form.get("province", ""),
        "language": form.get("language", ""),
        "topics": form.getlist("topic"),
        "reminders_by": form.get("reminders_by", "sms"),
    }
    errors = _check(values)
    with runtime().db.session() as db:
        row = _member(db, member_id)
        if errors:
            data = _profile(db, row)
            history = _history(db, row)
        else:
            changed = [
                key
                for key, old, new in (
                    ("name", row.name or "", values["name"]),
                    ("organisation", row.organisation or "", values["organisation"]),
                    ("province", row.province or "", values["province"]),
                    ("language", row.language, values["language"]),
                    ("topics", sorted(row.topics), sorted(values["topics"])),
                    ("reminders", row.reminder_channel, values["reminders_by"]),
                )
                if old != new
            ]
            row.name, row.organisation = values["name"] or None, values["organisation"] or None
            row.province, row.language = values["province"] or None, values["language"]
            row.reminder_channel = values["reminders_by"]
            store.set_topics(row, values["topics"])
            if changed:
                audit.record(db, actor(), "member.edit", f"member {row.id}", ", ".join(changed))
    if errors:
        return render_template(
            "dashboard/member.html", member=data, history=history, values=values, errors=errors, **_form_choices()
        ), 400
    return redirect(url_for("dashboard.member", member_id=member_id, saved=1))


def _check(values: dict) -> dict[str, str]:
    """Her edits, checked as an import row is: each mistake by field, in her language."""
    errors = {}
    if len(values["name"]) > 80:
        errors["name"] = _("A name may have up to 80 characters.")
    if len(values["organisation"]) > 120:
        errors["organisation"] = _("An organisation may have up to 120 characters.")
    if values["province"] and values["province"] not in dict(choices("provinces")):
        errors["province"] = _("Choose a province from the list.")
    if values["language"] not in dict(choices("languages")):
        errors["language"] = _("Choose a language from the list.")
    if any(t not in dict(choices("topics")) for t in values["topics"]):
        errors["topics"] = _("Choose topics from the list.")
    if values["reminders_by"] not in ("sms", "voice"):
        errors["reminders_by"] = _("Choose SMS or a call.")
    return errors


@bp.get("/members/<int:member_id>/erase")
@needs("send")
def member_erase_confirm(member_id: int):
    with runtime().db.session() as db:
        row = _member(db, member_id)
        who = {"id": row.id, "name": row.name or "—", "phone": mask(row.phone)}
    return render_template("dashboard/member_erase.html", who=who)


@bp.post("/members/<int:member_id>/erase")
@needs("send")
def member_erase(member_id: int):
    if request.form.get("confirm") != "yes":
        return redirect(url_for("dashboard.member_erase_confirm", member_id=member_id))
    with runtime().db.session() as db:
        _member(db, member_id)  # a 404 for one that is not there, or already erased
    erase_member(services(), runtime().inbox, runtime().spool, member_id, actor())
    return render_template(
        "dashboard/message.html",
        title=_("Erased"),
        text=_(
            "Member %(id)s was erased: her name, number, organisation, topics and "
            "message texts are gone. Votes and quiz scores stay in the totals.",
            id=member_id,
        ),
    )


@bp.get("/members/import")
@needs("send")
def members_import():
    return render_template("dashboard/members_import.html", **_import_words(), report=None, error=None)


@bp.post("/members/import")
@needs("send")
def members_import_post():
    upload = request.files.get("file")
    data = upload.read(IMPORT_LIMIT + 1) if upload else b""
    error, report, encoding = None, None, None
    if not data:
        error = _("Choose a CSV file first.")
    elif len(data) > IMPORT_LIMIT:
        error = _("The file is larger than 10 MB. Split it into smaller files.")
    else:
        app_services = services()
        vocabulary = Vocabulary.build(app_services.book, app_services.catalog)
        try:
            text, encoding = decode(data)
            with runtime().db.session() as db:
                report = store.import_rows(
                    db,
                    rows_from_text(text, ("phone",), store.CSV_COLUMNS, column_aliases()),
                    vocabulary,
                    app_services.config.default_language,
                )
                audit.record(
                    db,
                    actor(),
                    "members.import",
                    upload.filename or "upload.csv",
                    f"{report.created} created, {report.updated} updated, {len(report.rejected)} rejected",
                )
        except (ImportRowError, InputProblem) as problem:
            error = say(problem) + " " + _("Nothing was imported.")
        except csv.Error:
            error = _("The file is not a CSV file we can read. Nothing was imported.")
    if error:
        return render_template("dashboard/members_import.html", **_import_words(), report=None, error=error), 400
    rejected = [(p.line, say(p)) for p in report.rejected]
    return render_template(
        "dashboard/members_import.html",
        **_import_words(),
        report=report,
        rejected=rejected,
        error=None,
        windows=encoding == "windows-1252",
        name=upload.filename,
    )


def column_names() -> dict[str, str]:
    """The member file's columns, in her language: export writes them, import reads
    them (and every other language's, and the English codes)."""
    return {
        "phone": _("phone"),
        "name": _("name"),
        "organisation": _("organisation"),
        "province": _("province"),
        "language": _("language"),
        "topics": _("topics"),
        "consent": _("consent"),
        "opted_out_at": _("stopped messages"),
        "opted_in_at": _("started messages again"),
    }


def _import_words() -> dict[str, str]:
    names = column_names()
    return {"columns": ", ".join(names[column] for column in store.CSV_COLUMNS), "consent": names["consent"]}


def column_aliases() -> dict[str, str]:
    aliases = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            aliases.update({name: column for column, name in column_names().items()})
    return aliases


@bp.get("/members/export.csv")
@needs("send")
def members_export():
    """The members the list shows (its search and filters), with names in her
    language and local times: a file she can read, and import again."""
    where = _filters(request.args, accounts.can(g.user, "see_numbers"))[1:]  # (the erased are left out anyway)
    words = {list_name: dict(choices(list_name)) for list_name in ("provinces", "languages", "topics")}
    zone = ZoneInfo(current_app.config["GATEWAY"].timezone)
    with runtime().db.session() as db:
        names = column_names()
        rows = [[names[column] for column in store.CSV_COLUMNS + ("consent", "opted_out_at", "opted_in_at")]]
        rows += [list(row.values()) for row in store.export_rows(db, where, words, zone)]
        filters = ", ".join(f"{k}={v}" for k, v in request.args.items() if k != "page" and v)
        audit.record(
            db, actor(), "members.export", "members", f"{len(rows) - 1} member(s)" + (f"; {filters}" if filters else "")
        )
    return csv_download(rows, "members.csv")
