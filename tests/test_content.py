"""Content as versions in the database: the shipped first version, export and
import, publishing live without a restart, sessions finishing on their version,
reverts, an upgrade's content offered, and content as hostile input."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from gateway.config import PROJECT_ROOT
from gateway.content.edition import read_folder, read_folders, write_folder
from gateway.content.library import Library
from gateway.runtime import runtime_of
from gateway.store import content as versions
from gateway.store.models import AuditEvent, ContentVersion

from .helpers import add_member, shared_secret, walk

QUESTION = "ລະຫັດຜ່ານແບບໃດປອດໄພທີ່ສຸດ?"
CLEARER = "ລະຫັດແບບໃດປອດໄພກວ່າໝູ່?"


def _history(app) -> list[tuple[int, str]]:
    with runtime_of(app).db.session() as db:
        return [(row.id, row.status) for row in versions.history(db)]


def _until(check, seconds: float = 5.0):
    """``check()``'s first truthy answer within ``seconds``, as a member redialling would find it."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _quiz_first_screen(phone) -> str:
    phone.dial()
    return phone.press("2")


def test_a_new_install_publishes_the_shipped_content_as_version_1(app, run, tmp_path):
    assert [status for _, status in _history(app)] == ["published"]
    result = run("content", "export", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    shipped = read_folders(PROJECT_ROOT / "flows", PROJECT_ROOT / "prompts")
    assert read_folder(tmp_path / "out") == shipped  # byte for byte, every file


def test_import_publish_is_live_on_the_next_dial_and_revert_restores_it(app, run, phone_factory, tmp_path):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
    phone = phone_factory("+8562055510001")
    assert QUESTION in _quiz_first_screen(phone)  # the running gateway, on the first version
    first = _history(app)[-1][0]  # 1 on a new database (PostgreSQL's ids do not restart per test)

    assert run("content", "export", str(tmp_path / "v1")).exit_code == 0
    docs = read_folder(tmp_path / "v1")
    docs["prompts/lo.yaml"] = docs["prompts/lo.yaml"].replace(QUESTION, CLEARER)
    write_folder(docs, tmp_path / "v2")
    result = run("content", "import", str(tmp_path / "v2"), "--publish", "--note", "clearer")
    assert result.exit_code == 0, result.output
    assert _until(lambda: CLEARER in _quiz_first_screen(phone)), "not live within 5 s"

    # An over-long Lao question: refused with file and line, and nothing changes.
    long = "ລະຫັດຜ່ານແບບໃດທີ່ປອດໄພທີ່ສຸດສຳລັບບັນຊີເຟສບຸກ ອີເມວ ແລະ ທະນາຄານອອນລາຍຂອງທ່ານ ແລະ ຄອບຄົວ?"
    docs["prompts/lo.yaml"] = docs["prompts/lo.yaml"].replace(CLEARER, long)
    write_folder(docs, tmp_path / "v3")
    before = _history(app)
    result = run("content", "import", str(tmp_path / "v3"), "--publish")
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(docs["prompts/lo.yaml"].splitlines(), start=1) if long in text)
    assert f"{tmp_path / 'v3'}/prompts/lo.yaml:{line}: error: [lo] safety_quiz:passwords:" in result.output
    assert "nothing was imported or published" in result.output
    assert _history(app) == before
    assert CLEARER in _quiz_first_screen(phone)

    result = run("content", "revert", str(first))
    assert result.exit_code == 0, result.output
    assert _until(lambda: QUESTION in _quiz_first_screen(phone))
    assert [status for _, status in _history(app)] == ["published", "past", "past"]
    with runtime_of(app).db.session() as db:
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("content.publish") == 2 and "content.revert" in actions


def test_a_member_mid_quiz_finishes_on_the_version_she_started_with(app, phone_factory):
    """A change to the *second* question is published while she is on the first: she
    gets the second question as it was; a member who dials afterwards gets the new one."""
    from gateway.content import publication

    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        add_member(db, "+8562055510002")
        docs = versions.documents(db, versions.published_number(db))
    started = phone_factory("+8562055510001")
    assert QUESTION in _quiz_first_screen(started)
    old_second, new_second = "ຢືນຢັນ 2 ຂັ້ນຕອນ ເພີ່ມຫຍັງ?", "ຢືນຢັນ 2 ຂັ້ນຕອນ ຊ່ວຍຫຍັງ?"
    docs["prompts/lo.yaml"] = docs["prompts/lo.yaml"].replace(old_second, new_second)
    outcome = publication.publish_documents(
        publication.Desk.of(runtime_of(app).services, walk_hops=False), docs, "import", "test"
    )
    assert outcome.published, outcome.problems
    time.sleep(1.1)  # past every process's next check of the published number

    assert old_second in started.press("3")  # right: the second question, as it was
    assert new_second in walk(phone_factory("+8562055510002"), "2", "3")[-1]


def test_two_versions_are_never_published_at_once(app):
    with runtime_of(app).db.session() as db:
        docs = versions.documents(db, versions.published_number(db))
        first = versions.add(db, docs, "import", "a").id
        second = versions.add(db, docs, "import", "b").id
    with runtime_of(app).db.session() as db:
        versions.publish(db, first)
    with runtime_of(app).db.session() as db:
        versions.publish(db, second)
        assert (
            db.scalar(select(func.count()).select_from(ContentVersion).where(ContentVersion.status == "published")) == 1
        )
    # The index itself refuses a second published row, whatever the code does.
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with runtime_of(app).db.session() as db:
            db.get(ContentVersion, first).status = "published"
            db.flush()


def test_an_upgrade_offers_new_shipped_content_and_never_overwrites_edits(app, tmp_path):
    services = runtime_of(app).services
    shipped = read_folders(PROJECT_ROOT / "flows", PROJECT_ROOT / "prompts")
    release = dict(shipped)
    release["prompts/en.yaml"] = release["prompts/en.yaml"].replace(
        "Which password is strongest?", "Which password is the strongest?"
    )
    assert release != shipped

    # Untouched since it was shipped: the new release's content is published.
    upgraded = Library(services.db, services.redis, lambda: release, services.config.timezone)
    upgraded.ensure()
    with services.db.session() as db:
        assert versions.documents(db, versions.published_number(db)) == release
        edited = dict(release)
        edited["prompts/lo.yaml"] = edited["prompts/lo.yaml"].replace(QUESTION, CLEARER)
        mine = versions.add(db, edited, "dashboard", "noy@ngo.la").id
        versions.publish(db, mine)

    # Edited since: the next release's content is a draft, offered; hers stays live.
    later = dict(release)
    later["prompts/en.yaml"] = later["prompts/en.yaml"].replace("the strongest", "strongest of all")
    again = Library(services.db, services.redis, lambda: later, services.config.timezone)
    again.ensure()
    again.ensure()  # a second process starting: offered once
    with services.db.session() as db:
        assert versions.published_number(db) == mine
        offered = [row for row in versions.drafts(db) if row.source == "shipped"]
        assert len(offered) == 1 and "offered" in offered[0].note
        assert versions.documents(db, offered[0].id) == later


@pytest.mark.parametrize(
    "name, body, says",
    [
        ("prompts/lo.yaml", "a: &x [1]\nb: *x\n", "aliases"),
        ("prompts/lo.yaml", "a: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
        ("prompts/lo.yaml", "a: '" + "ກ" * 100_000 + "'\n", "at most 256 KB"),
        ("flows/../../etc.yaml", "flow: x\n", "not a content document name"),
        ("prompts/lo.yaml", "- just\n- a list\n", "maps keys to texts"),
    ],
)
def test_hostile_content_is_refused_with_a_reason_and_nothing_is_written(app, name, body, says):
    from gateway.content import publication

    with runtime_of(app).db.session() as db:
        docs = versions.documents(db, versions.published_number(db))
    before = _history(app)
    docs[name] = body
    outcome = publication.publish_documents(publication.Desk.of(runtime_of(app).services), docs, "import", "test")
    assert not outcome.published
    assert says in "\n".join(str(p) for p in outcome.problems)
    assert _history(app) == before


def test_a_publish_reaches_every_gunicorn_worker_without_a_restart(make_app, tmp_path, database_url):
    """``outreach up`` with two web workers; another process publishes; every dial that
    follows, whichever worker answers it, shows the new text within 5 s."""
    import os
    import subprocess
    import sys
    import urllib.parse
    import urllib.request

    from .test_up import start_up, stop

    make_app()  # a clean database with the shipped content published
    process, port = start_up(tmp_path, database_url, USSD_RATE_LIMIT="1000")
    try:
        token = shared_secret(database_url)
        url = f"http://127.0.0.1:{port}/ussd/africastalking?token={token}"

        def first_quiz_screen(n: int) -> str:
            screens, session = [], f"live-{n}-{time.monotonic_ns()}"
            for text in ("", "2"):
                form = urllib.parse.urlencode(
                    {
                        "sessionId": session,
                        "serviceCode": "*384#",
                        "phoneNumber": "+8562055510001",
                        "networkCode": "45701",
                        "text": text,
                    }
                ).encode()
                screens.append(urllib.request.urlopen(url, form, timeout=10).read().decode())
            return screens[-1]

        from gateway.store.database import Database
        from gateway.store.models import Member, utcnow

        database = Database(database_url)
        with database.session() as db:
            db.add(Member(phone="+8562055510001", name="Noy", language="lo", province="bokeo", consent_at=utcnow()))
        database.dispose()
        assert all(QUESTION in first_quiz_screen(n) for n in range(4))

        env = {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url}
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/14"
        else:  # the embedded Redis `outreach up` started for this instance
            env.pop("REDIS_URL", None)
        subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "content", "export", str(tmp_path / "c")],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        lo = tmp_path / "c" / "prompts" / "lo.yaml"
        lo.write_text(lo.read_text(encoding="utf-8").replace(QUESTION, CLEARER), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "content", "import", str(tmp_path / "c"), "--publish"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # Within 5 s, eight dials in a row (over both workers) all show the new text.
        deadline, in_a_row, n = time.monotonic() + 5, 0, 0
        while in_a_row < 8:
            assert time.monotonic() < deadline, "not live in every worker within 5 s"
            n += 1
            in_a_row = in_a_row + 1 if CLEARER in first_quiz_screen(n) else 0
    finally:
        stop(process)


def test_a_draft_made_before_another_publish_is_not_published_over_it(app, run, tmp_path):
    """An import saved as a draft, then someone else publishes: publishing the old
    draft would undo their change without anyone seeing it, so it is refused."""
    assert run("content", "export", str(tmp_path / "a")).exit_code == 0
    docs = read_folder(tmp_path / "a")
    docs["prompts/lo.yaml"] = docs["prompts/lo.yaml"].replace(QUESTION, CLEARER)
    write_folder(docs, tmp_path / "b")
    drafted = run("content", "import", str(tmp_path / "b"), "--no-hops")
    assert drafted.exit_code == 0, drafted.output
    draft = next(number for number, status in _history(app) if status == "draft")
    other = dict(read_folder(tmp_path / "a"))
    other["prompts/en.yaml"] = other["prompts/en.yaml"].replace("Which password is strongest?", "Strongest password?")
    write_folder(other, tmp_path / "c")
    published = run("content", "import", str(tmp_path / "c"), "--publish")
    assert published.exit_code == 0, published.output
    refused = run("content", "publish", str(draft))
    assert refused.exit_code == 1 and "has been published since" in refused.output


def test_a_published_version_this_release_cannot_build_does_not_stop_the_menus(app, phone_factory, caplog):
    """Published under an older release with looser checks, say: members keep the menus."""
    from gateway.store.models import ContentDocument

    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        number = versions.published_number(db)
        broken = versions.add(
            db, {**versions.documents(db, number), "prompts/en.yaml": "- not a catalog\n"}, "import", "an older release"
        )
        versions.publish(db, broken.id)
        assert db.get(ContentDocument, (broken.id, "prompts/en.yaml")) is not None
    runtime_of(app).services.library.announce(broken.id)
    assert QUESTION in _quiz_first_screen(phone_factory("+8562055510001"))
    assert f"content version {broken.id} cannot be built" in caplog.text
