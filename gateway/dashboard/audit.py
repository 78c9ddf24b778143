"""The audit log, for admins: who signed in, sent, edited, cancelled or erased what.

The log keeps what happened as the code wrote it (an action code, a subject such as
``member 12``, and a short detail), so that it reads the same from the CLI, the
phone studio and every release. This page says each in the admin's language: the
action in words, the subject named and linked, and the detail's numbers in a
sentence. A detail the page does not know (an older release's) is shown as written,
marked as English.
"""

from __future__ import annotations

import re

from flask import render_template, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from gateway.dashboard.auth import bp, needs
from gateway.dashboard.auth import language_name as lang_name
from gateway.dashboard.form import said_from
from gateway.dashboard.users import role_names
from gateway.runtime import runtime
from gateway.store import audit as audit_log


def action_names() -> dict[str, str]:
    return {
        "sign in": _("signed in"),
        "sign out": _("signed out"),
        "sign in refused": _("sign-in refused"),
        "user.add": _("added an account"),
        "user.role": _("changed an account's role"),
        "user.disable": _("disabled an account"),
        "user.enable": _("enabled an account"),
        "user.password": _("reset a password"),
        "member.edit": _("edited a member"),
        "member.erase": _("erased a member"),
        "members.import": _("imported members"),
        "members.export": _("downloaded members"),
        "session.create": _("added a session"),
        "session.edit": _("edited a session"),
        "session.cancel": _("cancelled a session"),
        "broadcast.create": _("wrote a message"),
        "broadcast.send": _("sent a message"),
        "broadcast.urgent": _("sent an urgent message in quiet hours"),
        "broadcast.cancel": _("cancelled a message"),
        "broadcast.delete": _("deleted a draft message"),
        "broadcast.resend_failed": _("sent again to those it failed for"),
        "broadcast.resend_unknown": _("sent again where the outcome was unknown"),
        "poll.create": _("started a poll"),
        "poll.close": _("closed a poll"),
        "survey.close": _("closed a survey"),
        "inbox.answer": _("answered a member's text"),
        "inbox.handled": _("marked a member's texts handled"),
        "content.edit": _("changed content in the draft"),
        "content.draft": _("made a version of the content"),
        "content.publish": _("published content"),
        "content.revert": _("put back an earlier version"),
        "content.discard": _("discarded the content draft"),
        "prompt.record": _("recorded a voice prompt"),
        "prompt.call_me": _("asked the studio to call"),
        "studio.locked": _("locked the phone studio after wrong PINs"),
        "secret.rotate": _("replaced a secret the servers share"),
    }


def field_names() -> dict[str, str]:
    """A member's or a session's fields, as an edit lists them."""
    return {
        "name": _("name"),
        "organisation": _("organisation"),
        "province": _("province"),
        "language": _("language"),
        "topics": _("topics"),
        "reminders": _("reminders by"),
        "kind": _("kind"),
        "topic": _("topic"),
        "starts_at": _("start"),
        "duration_minutes": _("length"),
        "place": _("place"),
        "join_link": _("link to join"),
        "dial_in": _("dial-in number"),
        "capacity": _("places"),
        "feedback_after_minutes": _("feedback question"),
        "reminder_texts": _("reminder words"),
        "titles": _("title"),
    }


_NOUNS = {
    "member": "dashboard.member",
    "broadcast": "dashboard.broadcast",
    "session": "dashboard.session",
    "content": "dashboard.content_version",
    "poll": "dashboard.poll",
    "user": None,
    "text": None,
}
_ARGUMENT = {
    "member": "member_id",
    "broadcast": "broadcast_id",
    "session": "session_id",
    "content": "number",
    "poll": "code",
}


def _noun_names() -> dict[str, str]:
    return {
        "member": _("member"),
        "broadcast": _("message"),
        "session": _("session"),
        "content": _("content version"),
        "poll": _("poll"),
        "user": _("account"),
        "text": _("text"),
    }


def subject(text: str) -> dict:
    """The subject in words, an identifier shown as written (a document's or a file's
    name, marked as no language), and where it links to."""
    noun, _sep, ident = text.partition(" ")
    if noun in _NOUNS and ident and " " not in ident:
        endpoint, link = _NOUNS[noun], None
        if endpoint and (noun == "poll" or ident.isdigit()):
            link = url_for(endpoint, **{_ARGUMENT[noun]: int(ident) if ident.isdigit() else ident})
        elif noun == "text":
            link, ident = url_for("dashboard.content_text", key=ident), ""  # its page names it by its words
        return {"words": f"{_noun_names()[noun]} {ident}".strip(), "code": "", "link": link}
    prompt = re.fullmatch(r"(?P<lang>[a-z]{2,3})/(?P<key>[\w.]+)", text)
    if prompt:
        return {
            "words": _("a voice prompt in %(language)s", language=lang_name(prompt["lang"])),
            "code": "",
            "link": url_for("dashboard.content_text", key=prompt["key"]),
        }
    document = re.fullmatch(r"(?P<kind>quizzes|surveys)/(?P<name>[\w-]+)\.yaml", text)
    if document:
        endpoint = "dashboard.content_quiz_edit" if document["kind"] == "quizzes" else "dashboard.content_survey_edit"
        return {
            "words": _("quiz") if document["kind"] == "quizzes" else _("survey"),
            "code": document["name"],
            "link": url_for(endpoint, name=document["name"]),
        }
    known = {
        "draft": _("the content draft"),
        "members": _("members"),
        "studio": _("the phone studio"),
        "no such account": _("no such account"),
    }
    if text in known:
        return {"words": known[text], "code": "", "link": None}
    return {"words": "", "code": text, "link": None}


def actor(text: str) -> str:
    if text == "sign-in form":
        return _("the sign-in form")
    if text == "phone studio":
        return _("the phone studio")
    if text.endswith(" (studio PIN)"):
        return _("%(who)s, by phone with the studio PIN", who=text[: -len(" (studio PIN)")])
    if text.startswith("cli:"):
        return _("%(who)s, on the command line", who=text[4:])
    return text


def _count(match: re.Match, name: str = "n") -> str:
    return format_decimal(int(match[name]))


# Each detail the code writes, as a pattern and its sentence. Numbers keep their place.
_DETAILS: list[tuple[re.Pattern, object]] = [
    (
        re.compile(r"(?P<n>\d+) message\(s\)(?P<quiet>, sent in quiet hours)?"),
        lambda m: _("%(count)s message(s)", count=_count(m)) + (", " + _("sent in quiet hours") if m["quiet"] else ""),
    ),
    (
        re.compile(r"(?P<n>\d+) unsent message\(s\) stopped"),
        lambda m: _("%(count)s unsent message(s) stopped", count=_count(m)),
    ),
    (
        re.compile(r"(?P<n>\d+) unsent question\(s\) stopped"),
        lambda m: _("%(count)s unsent question(s) stopped", count=_count(m)),
    ),
    (
        re.compile(r"(?P<c>\d+) created, (?P<u>\d+) updated, (?P<r>\d+) rejected"),
        lambda m: _(
            "%(created)s added, %(updated)s updated, %(rejected)s refused",
            created=_count(m, "c"),
            updated=_count(m, "u"),
            rejected=_count(m, "r"),
        ),
    ),
    (
        re.compile(r"(?P<n>\d+) member\(s\)(?P<filtered>; .*)?"),  # an export, with the list's filters
        lambda m: _("%(count)s member(s)", count=_count(m)) + (", " + _("as filtered") if m["filtered"] else ""),
    ),
    (re.compile(r"(?P<n>\d+) text\(s\)"), lambda m: _("%(count)s text(s)", count=_count(m))),
    (re.compile(r"(?P<n>\d+) SMS"), lambda m: _("%(count)s SMS", count=_count(m))),
    (re.compile(r"(?P<n>\d+(?:\.\d+)?) s"), lambda m: _("%(seconds)s seconds", seconds=m["n"])),
    (re.compile(r"as in version (?P<n>\d+)"), lambda m: _("as in version %(number)s", number=m["n"])),
    (re.compile(r"a copy of version (?P<n>\d+)"), lambda m: _("a copy of version %(number)s", number=m["n"])),
    (re.compile(r"replaces version (?P<n>\d+)"), lambda m: _("in place of version %(number)s", number=m["n"])),
    (re.compile(r"the first version"), lambda m: _("the first version")),
    (re.compile(r"by phone"), lambda m: _("by phone")),
    (re.compile(r"reset by an admin"), lambda m: _("reset by an admin")),
    (re.compile(r"language added"), lambda m: _("language added")),
    (re.compile(r"role (?P<role>\w+)"), lambda m: _("role: %(role)s", role=role_names().get(m["role"], m["role"]))),
    (
        re.compile(r"from (?P<where>\S+?)(?P<locked>, locked for 15 minutes)?"),
        lambda m: _("from %(where)s", where=m["where"]) + (", " + _("locked for 15 minutes") if m["locked"] else ""),
    ),
    (re.compile(r"(?P<n>\d+) answer\(s\) kept"), lambda m: _("%(count)s answer(s) kept", count=_count(m))),
    (
        re.compile(r"(?P<n>\d+) answer\(s\); sensitive: totals kept, (?P<d>\d+) answer\(s\) deleted"),
        lambda m: _(
            "%(count)s answer(s); sensitive: totals kept, %(deleted)s answer(s) deleted",
            count=_count(m),
            deleted=_count(m, "d"),
        ),
    ),
    (
        re.compile(
            r"name, number, organisation, topics; (?P<n>\d+) message text\(s\), (?P<r>\d+) typed reply\(ies\); "
            r"votes and quiz scores kept"
        ),
        lambda m: _(
            "name, number, organisation and topics; %(messages)s message text(s) and %(replies)s typed "
            "reply(ies) erased; votes and quiz scores kept",
            messages=_count(m),
            replies=_count(m, "r"),
        ),
    ),
    (
        re.compile(r"number (?P<phone>\S+): (?P<n>\d+) wrong PINs in an hour"),
        lambda m: _("%(phone)s: %(count)s wrong PINs in an hour", phone=m["phone"], count=_count(m)),
    ),
    (
        re.compile(r"every number: (?P<n>\d+) wrong PINs in an hour"),
        lambda m: _("every number: %(count)s wrong PINs in an hour", count=_count(m)),
    ),
    (
        re.compile(r"(?P<what>quiz|survey)(?P<gone> removed)?"),
        lambda m: {"quiz": _("a quiz"), "survey": _("a survey")}[m["what"]] + (" " + _("removed") if m["gone"] else ""),
    ),
]


def detail(action: str, text: str | None) -> tuple[str, bool]:
    """The detail in words, and whether it is shown as written (not known here)."""
    if not text:
        return "", False
    if action in ("member.edit", "session.edit"):
        fields, parts = field_names(), [part.strip() for part in text.split(",")]
        if all(part in fields for part in parts):
            return ", ".join(fields[part] for part in parts), False
    if action == "content.edit":
        codes = [part.strip() for part in text.split(",")]
        if all(re.fullmatch(r"[a-z]{2,3}", code) for code in codes):
            return ", ".join(lang_name(code) for code in codes), False
    words = said_from(_DETAILS, text)
    if words is not None:
        return words, False
    if action in ("session.create", "session.cancel", "broadcast.create", "broadcast.delete", "poll.create"):
        return text, False  # a title she wrote: her words, in her language
    return text, True


@bp.get("/audit", endpoint="audit")
@needs("manage")
def show():
    names = action_names()
    with runtime().db.session() as db:
        events = []
        for event in audit_log.recent(db, 200):
            words, english = detail(event.action, event.detail)
            events.append(
                {
                    "at": event.at,
                    "actor": actor(event.actor),
                    "action": names.get(event.action),
                    "code": event.action,
                    "subject": subject(event.subject),
                    "detail": words,
                    "english": english,
                }
            )
    return render_template("dashboard/audit.html", events=events)
