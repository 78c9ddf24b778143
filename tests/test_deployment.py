"""The gateway over several hosts, each in a network namespace of its own
(``tests/deployment.py``): a data host (PostgreSQL and Redis), two web hosts, two
worker hosts and, for the SMPP test, two SMPP hosts. This test's own process is
the client: it posts as the providers do, and runs the fake Africa's Talking and
the fake SMSC on the bridge.

It takes root and a few minutes, so it runs where ``DEPLOYMENT_TESTS=1`` (CI's
second pass sets it); anywhere else it is skipped, and says why.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import insert, select

from . import deployment as hosts
from .helpers import PASSWORD, add_member, shared_secret

pytestmark = pytest.mark.skipif(
    os.environ.get("DEPLOYMENT_TESTS") != "1",
    reason="set DEPLOYMENT_TESTS=1 to run the several-hosts tests (root, a few minutes)",
)

REGISTRATION = ["ສະໝັກ", "ນ້ອຍ", "0", "2", "7", "1", "1"]
THANKS = "ຂອບໃຈ ນ້ອຍ! ລົງທະບຽນແລ້ວ. ຫົວຂໍ້: ໂພຊະນາການ"


@pytest.fixture(scope="module")
def deployment():
    from pytest_httpserver import HTTPServer

    from .fakes import FakeAfricasTalking

    missing = hosts.possible()
    assert missing is None, f"DEPLOYMENT_TESTS=1, but no deployment can be made here: {missing}"
    made = hosts.Deployment()
    server = None
    try:
        made.network()
        made.data()
        server = HTTPServer(host=made.ip("client"), port=0)
        server.start()
        made.fake = FakeAfricasTalking(server)
        made.settings = dict(
            SMS_PROVIDER="africastalking",
            AT_API_URL=made.fake.url,
            AT_USERNAME="outreach",
            AT_API_KEY="key",
            PROVIDER_TIMEOUT_MS="3000",
            BULK_BATCH_SIZE="50",
            RECONCILE_EVERY="3",
            SENDING_TIMEOUT="5",
            JOB_STALE_AFTER="15",
            USSD_RATE_LIMIT="10000",
        )
        made.gateway("web1", "web", **made.settings)  # it migrates the new database
        made.wait(lambda: made.healthy("web1"), 90, "web1 up")
        made.gateway("web2", "web", **made.settings)
        made.gateway("worker1", "worker", **made.settings)
        made.gateway("worker2", "worker", **made.settings)
        made.wait(lambda: (made.healthy("web2") or {}).get("workers") == 2, 90, "web2 up, and two workers")
        made.token = shared_secret(made.database_url)
        yield made
    finally:
        if server is not None:
            server.clear()
            server.stop()
        made.close()


@pytest.fixture(scope="module")
def client_services(deployment, tmp_path_factory):
    """The store and queues as a command on another machine would have them."""
    from gateway.config import Config
    from gateway.services import Services

    services = Services.build(
        Config.from_env(
            {},
            instance_path=tmp_path_factory.mktemp("client"),
            database_url=deployment.database_url,
            redis_url=deployment.redis_url,
            quiet_hours="off",
            sms_provider="africastalking",
            at_api_url=deployment.fake.url,
            at_username="outreach",
            at_api_key="key",
            bulk_batch_size=50,  # as the hosts' environment says
        )
    )
    yield services
    services.db.dispose()


def post(deployment, host: str, path: str, form: dict, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        deployment.url(host) + path, data=urllib.parse.urlencode(form).encode(), method="POST", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def hop(deployment, host: str, session: str, phone: str, text: str) -> str:
    status, body = post(
        deployment,
        host,
        f"/ussd/africastalking?token={deployment.token}",
        {"sessionId": session, "serviceCode": "*384*1#", "phoneNumber": phone, "text": text},
    )
    assert status == 200, body
    return body


def sms(deployment, host: str, phone: str, text: str, message_id: str) -> int:
    return post(
        deployment,
        host,
        f"/sms/africastalking?token={deployment.token}",
        {"from": phone, "to": "20880", "text": text, "id": message_id, "date": "", "linkId": ""},
    )[0]


def replies_to(services, phones) -> dict[str, list[tuple[str, str]]]:
    from gateway.store.models import Member, OutboundMessage

    found: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    with services.db.session() as db:
        for phone, body, status in db.execute(
            select(Member.phone, OutboundMessage.body, OutboundMessage.status)
            .join(Member, Member.id == OutboundMessage.member_id)
            .where(Member.phone.in_(list(phones)))
            .order_by(OutboundMessage.id)
        ):
            found[phone].append((body, status))
    return found


# ------------------------------------------------------------------ USSD, sign-in, recordings


def test_a_ussd_session_alternates_between_hosts_and_a_redial_resumes_on_the_other(deployment):
    phone = "+8562055540001"
    asked_name = hop(deployment, "web1", "ns-1", phone, "")
    asked_organisation = hop(deployment, "web2", "ns-1", phone, "ນ້ອຍ")
    asked_region = hop(deployment, "web1", "ns-1", phone, "ນ້ອຍ*0")
    assert asked_name.startswith("CON ") and "ທ່ານຢູ່ພາກໃດ?" in asked_region
    assert len({asked_name, asked_organisation, asked_region}) == 3
    offer = hop(deployment, "web2", "ns-2", phone, "")  # cut off; she dials again, through web2
    assert "ສືບຕໍ່ຈາກບ່ອນທີ່ຄ້າງໄວ້" in offer
    assert "ທ່ານຢູ່ພາກໃດ?" in hop(deployment, "web1", "ns-2", phone, "1")


def _signed_in(deployment, client_services):
    """An admin's browser (a requests session), signed in on web1."""
    import requests

    from gateway.store import users as accounts

    with client_services.db.session() as db:
        if accounts.by_email(db, "admin@ngo.la") is None:
            accounts.add(db, "admin@ngo.la", PASSWORD, "admin", language="en")
    session = requests.Session()
    form = session.get(deployment.url("web1") + "/login", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)[1]
    signed = session.post(
        deployment.url("web1") + "/login",
        data={"csrf": csrf, "email": "admin@ngo.la", "password": PASSWORD, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 302, signed.text[:500]
    return session


def _carried(browser) -> dict:
    """The browser's cookies, sent to another host as they are."""
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.cookies)}


def test_a_sign_in_on_one_host_is_good_on_the_other(deployment, client_services):
    import requests

    cookies = _carried(_signed_in(deployment, client_services))
    other = requests.get(deployment.url("web2") + "/members", headers=cookies, allow_redirects=False, timeout=10)
    assert other.status_code == 200 and "<table" in other.text  # the members page itself, not the sign-in form
    stranger = requests.get(deployment.url("web2") + "/members", allow_redirects=False, timeout=10)
    assert stranger.status_code in (302, 303)


def test_a_recording_made_through_one_host_is_served_by_the_other(deployment, client_services):
    import requests

    from .audio import encoded

    browser = _signed_in(deployment, client_services)
    page = browser.get(deployment.url("web1") + "/prompts", timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    made = browser.post(
        deployment.url("web1") + "/prompts/lo/voice.sorry_english",
        data={"csrf": csrf},
        files={"audio": ("blob", encoded("webm", "libopus"), "audio/webm")},
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert made.status_code == 200 and made.json()["ok"], made.text
    on_web1 = requests.get(deployment.url("web1") + "/audio/lo/voice.sorry_english.wav", timeout=10)
    on_web2 = requests.get(deployment.url("web2") + "/audio/lo/voice.sorry_english.wav", timeout=10)
    assert on_web2.status_code == 200 and on_web2.headers["Content-Type"] == "audio/wav"
    assert on_web2.content == on_web1.content and len(on_web2.content) > 1000


# ------------------------------------------------------------------ the inbox over two worker hosts


def test_500_sms_registrations_over_two_worker_hosts_are_answered_in_order(deployment, client_services):
    phones = [f"+85620556{n:05d}" for n in range(500)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for step, text in enumerate(REGISTRATION):
            # Every member's text of this step, through either web host, before any of the next step.
            posted = list(
                pool.map(
                    lambda n: sms(deployment, ("web1", "web2")[(n + step) % 2], phones[n], text, f"reg-{n}-{step}"),
                    range(len(phones)),
                )
            )
            assert set(posted) == {200}

    def answered():
        found = replies_to(client_services, phones)
        return sum(len(r) for r in found.values()) >= len(phones) * len(REGISTRATION) and found

    found = deployment.wait(answered, 180, "every registration answered", every_s=1.0)
    expected = [body for body, _ in found[phones[0]]]
    assert len(expected) == len(REGISTRATION) and expected[-1] == THANKS
    wrong = [phone for phone in phones if [body for body, _ in found[phone]] != expected]
    assert not wrong, f"{len(wrong)} of {len(phones)} registrations answered wrongly or out of order"
    deployment.wait(
        lambda: all(
            status == "sent" for replies in replies_to(client_services, phones).values() for _, status in replies
        ),
        60,
        "every reply sent",
    )
    for worker in ("worker1", "worker2"):  # both drainers took part
        assert "replies:" in (deployment.root / f"{worker}-worker.log").read_text(), deployment.logs(worker)


# ------------------------------------------------------------------ a broadcast while a worker host dies


def test_a_broadcast_to_2000_members_survives_a_worker_host_dying(deployment, client_services):
    from gateway.content.vocabulary import Vocabulary
    from gateway.messaging import broadcasts, bulk
    from gateway.messaging.audience import Audience
    from gateway.store.models import Member, MemberTopic, utcnow

    now = utcnow()
    phones = [f"+85620557{n:05d}" for n in range(2000)]
    with client_services.db.session() as db:
        db.execute(
            insert(Member),
            [
                {"phone": p, "name": f"M{n}", "language": "lo", "province": "bokeo", "source": "import",
                 "consent_at": now, "created_at": now, "updated_at": now}
                for n, p in enumerate(phones)
            ],
        )  # fmt: skip
        ids = db.scalars(select(Member.id).where(Member.phone.in_(phones))).all()
        db.execute(insert(MemberTopic), [{"member_id": i, "topic": "climate"} for i in ids])
        vocabulary = Vocabulary.build(client_services.book, client_services.catalog)
        broadcast_id = broadcasts.create(db, {"lo": "ສະບາຍດີ"}, Audience.parse("topic=climate", vocabulary)).id
    fake = deployment.fake
    before = len(fake.requests)
    fake.delay = 0.15  # slow enough to be caught mid-way
    bulk.dispatch(client_services, broadcast_id)
    deployment.wait(lambda: len(fake.requests) - before >= 8, 60, "the broadcast under way", every_s=0.02)
    deployment.kill_host("worker1")
    killed_at = len(fake.requests) - before
    fake.delay = 0.0
    assert killed_at < 40, "finished before the kill: nothing was tested"

    def settled():
        with client_services.db.session() as db:
            counts = {status: n for status, n in broadcasts.progress(db, broadcast_id).items() if n}
        return sum(counts.values()) == 2000 and set(counts) <= {"sent", "unknown"} and counts

    counts = deployment.wait(settled, 120, "every row sent or unknown, by worker2")
    taken = collections.Counter(number for number, _ in fake.taken if number in set(phones))
    assert max(taken.values()) == 1, "a member was sent the broadcast twice"
    # A job is one request of 50 here (BULK_BATCH_SIZE): at most that was in flight on the dead host.
    assert counts.get("unknown", 0) <= 50
    assert counts["sent"] + counts.get("unknown", 0) == 2000
    deployment.gateway("worker1", "worker", **deployment.settings)  # the host comes back
    deployment.wait(lambda: (deployment.healthy("web1") or {}).get("workers") == 2, 90, "worker1 back")


# ------------------------------------------------------------------ the database going away


def test_texts_kept_through_a_database_outage_are_answered_and_an_erasure_meanwhile_holds(deployment, client_services):
    from gateway.channels.erasure import erase_member
    from gateway.channels.sms.inbox import Inbox
    from gateway.channels.sms.spool import Spool
    from gateway.store import members

    her = "+8562055650001"
    others = [f"+85620556{n:05d}" for n in range(90000, 90005)]
    with client_services.db.session() as db:
        her_id = add_member(db, her, name="Khamla").id
    deployment.stop_postgres()
    try:
        for n, phone in enumerate([her, *others]):
            assert sms(deployment, "web2", phone, "HELP", f"outage-{n}") == 200  # spooled on web2
        health = deployment.healthy("web2")
        assert health is None or health["status"] == "down"
    finally:
        deployment.start_postgres()
    back = time.monotonic()
    # Her erasure, from another machine, as the database returns.
    erased = erase_member(
        client_services, Inbox.of(client_services), Spool(client_services.config.instance_path / "s"), her_id, "test"
    )
    assert erased.member_id == her_id

    def answered():
        found = replies_to(client_services, others)
        return all(found.get(phone) for phone in others) and found

    deployment.wait(answered, 45, "the spooled texts answered with no new traffic", every_s=0.5)
    assert time.monotonic() - back <= 30
    with client_services.db.session() as db:
        assert members.by_phone(db, her) is None  # she did not come back
    assert deployment.wait(lambda: deployment.healthy("web2")["spool"]["waiting"] == 0, 30, "web2's spool empty")


# ------------------------------------------------------------------ migrating


def test_two_hosts_migrating_an_empty_database_at_once_both_succeed(deployment):
    for attempt in range(2):
        name = f"fresh{attempt}"
        hosts._psql(deployment, f"CREATE DATABASE {name}", "postgres")
        url = f"postgresql://postgres@{deployment.ip('data')}:5432/{name}"
        runs = [
            subprocess.Popen(
                ["ip", "netns", "exec", deployment.ns(host), sys.executable, "-m", "gateway.cli.main", "migrate"],
                env=deployment.env(host, DATABASE_URL=url),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for host in ("web1", "web2")
        ]
        said = [run.communicate(timeout=120)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], said
        assert all("database is up to date" in text for text in said), said


# ------------------------------------------------------------------ the SMPP link


def test_the_smpp_hosts_hold_one_bind_and_the_standby_binds_within_30_s_of_the_holder_dying(
    deployment, client_services
):
    from .fake_smsc import FakeSmsc

    smsc = FakeSmsc(host=deployment.ip("client"))
    settings = dict(
        deployment.settings,
        SMS_PROVIDER="smpp",
        SMPP_HOST=deployment.ip("client"),
        SMPP_PORT=str(smsc.port),
        SMPP_SYSTEM_ID="outreach",
        SMPP_PASSWORD="secret",
        SMPP_SOURCE="OUTREACH",
        SMPP_ENQUIRE_S="1",
    )
    try:
        for host in ("smpp1", "smpp2"):
            deployment.gateway(host, "smpp", **settings)
        deployment.wait(lambda: smsc.binds == 1, 60, "one bind")
        deployment.wait(lambda: "standing by" in deployment.logs("smpp1", "smpp2"), 30, "the other standing by")
        assert smsc.most_bound_at_once == 1
        token = client_services.redis.get(f"smpp:lease:outreach@{deployment.ip('client')}:{smsc.port}").decode()
        pid = token.split(":")[1]
        holder = next(
            host
            for host in ("smpp1", "smpp2")
            if pid
            in subprocess.run(
                ["ip", "netns", "pids", deployment.ns(host)], capture_output=True, text=True
            ).stdout.split()
        )
        deployment.kill_host(holder)
        killed = time.monotonic()
        deployment.wait(lambda: smsc.binds == 2, 45, "the standby bound", every_s=0.1)
        assert time.monotonic() - killed <= 30
        assert smsc.most_bound_at_once == 1
    finally:
        for host in ("smpp1", "smpp2"):
            deployment.kill_host(host)
        smsc.stop()
