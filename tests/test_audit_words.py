"""The audit log speaks the admin's language: every action the code records has its
words, and the details the code writes are said in Lao with their numbers kept."""

from __future__ import annotations

import re
from pathlib import Path

from flask_babel import force_locale

from gateway.dashboard import audit as audit_page

SOURCE = Path(__file__).resolve().parent.parent / "gateway"
# audit.record(db, who, "action", ...) and users' (action, detail) returns.
# The arguments may each be on a line of their own (the formatter splits long calls).
RECORDED = re.compile(
    r"""record\(\s*[^,:)]+?,\s*[^,:]+?,\s*"([a-z_. ]+)"|return \(?\s*"(user\.[a-z_]+)",|"(broadcast\.[a-z_]+)" if"""
    r'|notify\(\s*"([a-z_.]+)"'
)


def recorded_actions() -> set[str]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        for match in RECORDED.finditer(path.read_text(encoding="utf-8")):
            found.add(next(group for group in match.groups() if group))
    return found


def test_every_recorded_action_has_words(app):
    actions = recorded_actions()
    assert {"member.edit", "sign in", "user.role", "broadcast.urgent", "content.publish"} <= actions
    with app.test_request_context(), force_locale("lo"):
        names = audit_page.action_names()
        assert sorted(actions - set(names)) == []
        assert all(not re.search(r"[A-Za-z]", names[action].replace("PIN", "")) for action in actions)


DETAILS = [
    ("broadcast.send", "12 message(s)"),
    ("broadcast.urgent", "3 message(s), sent in quiet hours"),
    ("broadcast.cancel", "4 unsent message(s) stopped"),
    ("poll.close", "2 unsent question(s) stopped"),
    ("members.import", "5 created, 1 updated, 2 rejected"),
    ("members.export", "40 member(s)"),
    ("members.export", "9 member(s); province=bokeo"),
    ("content.discard", "3 text(s)"),
    ("inbox.answer", "2 SMS"),
    ("prompt.record", "4.5 s"),
    ("content.revert", "a copy of version 3"),
    ("content.publish", "replaces version 4"),
    ("content.publish", "the first version"),
    ("user.role", "role editor"),
    ("sign in refused", "from 3f2a9c4b5d6e7f80, locked for 15 minutes"),
    ("survey.close", "7 answer(s) kept"),
    ("survey.close", "7 answer(s); sensitive: totals kept, 7 answer(s) deleted"),
    (
        "member.erase",
        "name, number, organisation, topics; 3 message text(s), 1 typed reply(ies); votes and quiz scores kept",
    ),
    ("member.edit", "name, topics, reminders"),
    ("session.edit", "starts_at, capacity, reminder_texts"),
    ("content.edit", "lo, en"),
    ("content.edit", "quiz removed"),
    ("studio.locked", "number ***********345: 5 wrong PINs in an hour"),
    ("studio.locked", "every number: 20 wrong PINs in an hour"),
]


def test_the_details_the_code_writes_are_said_in_lao(app):
    with app.test_request_context(), force_locale("lo"):
        for action, detail in DETAILS:
            words, as_written = audit_page.detail(action, detail)
            latin = re.sub(r"SMS|PIN|English|\b[0-9a-f]{16}\b", "", words)
            assert not as_written and not re.search(r"[A-Za-z]", latin), (action, detail, words)
            for number in re.findall(r"\d+", detail):
                if action not in ("sign in refused", "members.export"):
                    assert number in words, (detail, words)
        assert audit_page.detail("x.y", "something new") == ("something new", True)  # shown as written, as English
