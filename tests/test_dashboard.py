"""The organiser dashboard's foundation: accounts, signing in and out, CSRF, roles,
the overview and the audit log, in Lao and English (Flask test client)."""

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import select

from gateway.config import PROJECT_ROOT
from gateway.runtime import runtime_of
from gateway.store import users as accounts
from gateway.store.models import AuditEvent, User

from .helpers import PASSWORD, add_member, add_session, switch_language
from .helpers import form_token as token

DASHBOARD = PROJECT_ROOT / "gateway" / "dashboard"


def sign_in(client, email="admin@ngo.la", password=PASSWORD, next_page="/"):
    form = client.get("/login").data
    return client.post("/login", data={"csrf": token(form), "email": email, "password": password, "next": next_page})


def test_users_add_hashes_the_password_and_refuses_bad_input(run, app):
    made = run("users", "add", "Noy@NGO.la", "--role", "organiser", "--password-stdin", input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    with runtime_of(app).db.session() as db:
        user = db.scalar(select(User))
        assert user.email == "noy@ngo.la" and user.password_hash.startswith("scrypt$")
        assert PASSWORD not in user.password_hash and accounts.password_matches(PASSWORD, user.password_hash)
    for args, text, message in [
        (("noy@ngo.la", "--role", "viewer"), PASSWORD, "has an account already"),
        (("not-an-email", "--role", "viewer"), PASSWORD, "is not an email address"),
        (("b@ngo.la", "--role", "viewer"), "short", "at least 10 characters"),
    ]:
        refused = run("users", "add", *args, "--password-stdin", input=text + "\n")
        assert refused.exit_code == 1 and message in refused.output
    assert run("users", "add", "c@ngo.la", "--role", "boss", "--password-stdin", input=PASSWORD).exit_code == 2


def test_pages_need_a_sign_in_and_sign_in_needs_the_form_token(people):
    client = people.test_client()
    first = client.get("/")
    assert first.status_code == 302 and first.location.endswith("/login?next=/")
    no_token = client.post("/login", data={"email": "admin@ngo.la", "password": PASSWORD})
    assert no_token.status_code == 400 and "ບໍ່ມີຫຍັງຖືກບັນທຶກ" in no_token.data.decode()  # Lao until she picks
    assert client.get("/").status_code == 302  # still signed out
    signed = sign_in(client)
    assert signed.status_code == 302 and signed.location == "/"
    page = client.get("/")
    assert page.status_code == 200 and b"Overview" in page.data


def test_cookies_are_http_only_and_same_site_and_secure_behind_https(make_app, people):
    client = people.test_client()
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = make_app(public_base_url="https://gw.example.org").test_client()
    assert "Secure" in sign_in(secure).headers["Set-Cookie"]


def test_wrong_passwords_lock_the_account_from_that_address_only_and_say_nothing_more(people):
    client = people.test_client()
    switch_language(client, "en")  # the page before sign-in is in the gateway's language (Lao) until she picks
    message = b"Wrong email or password, or too many tries."
    for _ in range(5):
        wrong = sign_in(client, password="wrong password")
        assert wrong.status_code == 401 and message in wrong.data
    locked = sign_in(client)  # even the right password waits, and hears the same words
    assert locked.status_code == 401 and message in locked.data
    unknown = sign_in(client, email="nobody@ngo.la", password="x" * 10)
    assert unknown.status_code == 401 and message in unknown.data
    elsewhere = people.test_client()  # nobody can lock an organiser out from another address
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert sign_in(elsewhere).status_code == 302
    with runtime_of(people).db.session() as db:
        refusals = db.scalars(select(AuditEvent).where(AuditEvent.action == "sign in refused")).all()
        assert len(refusals) == 7 and "locked for 15 minutes" in refusals[4].detail
        assert sum(e.subject == "no such account" for e in refusals) == 1
        assert not any("nobody" in (e.actor + e.subject + (e.detail or "")) for e in refusals)
    for key in runtime_of(people).redis.scan_iter("dash:fail:*"):  # fifteen minutes later
        runtime_of(people).redis.delete(key)
    assert sign_in(client).status_code == 302
    for _ in range(10):
        sign_in(client, email="nobody@ngo.la", password="x" * 10)
    assert sign_in(client).status_code == 429  # ten tries a minute from one address


def test_roles_are_checked_on_the_server(people):
    viewer, admin = people.test_client(), people.test_client()
    sign_in(viewer, "kham@ngo.la")
    sign_in(admin)
    assert viewer.get("/audit").status_code == 403
    log = admin.get("/audit")
    assert log.status_code == 200 and b"signed in" in log.data
    assert (
        b'data-label="Who">kham@ngo.la</td>\n    <td data-label="What">signed in</td>' in log.data
    )  # who, by her email (ids differ per database)
    assert b"Audit log" not in viewer.get("/").data  # not offered to whom cannot open it


def test_the_overview_counts_members_and_lists_what_is_coming_in_lao(people):
    with runtime_of(people).db.session() as db:
        add_member(db, "+8562055590001", province="bokeo", language="lo", topics=("nutrition", "wash"))
        add_member(db, "+8562055590002", province="saravane", language="en", topics=("nutrition",))
        add_session(db)
    client = people.test_client()
    sign_in(client)
    switched = client.post("/language/lo", data={"csrf": token(client.get("/").data), "next": "/"})
    assert switched.status_code == 302
    page = client.get("/").data.decode()
    assert "ພາບລວມ" in page and "ສະມາຊິກທີ່ລົງທະບຽນແລ້ວ 2 ຄົນ" in page
    assert "ບໍ່ແກ້ວ" in page and "ສາລະວັນ" in page and "ໂພຊະນາການ" in page
    assert "ພົບປະລົມກັນ: ໂພຊະນາການແມ່ ແລະ ເດັກ" in page
    assert "+8562055590001" not in page and "2055590001" not in page  # no phone numbers on the overview
    assert '<html lang="lo">' in page
    with runtime_of(people).db.session() as db:
        assert accounts.by_email(db, "admin@ngo.la").language == "lo"  # kept for her next visit


def test_sign_out_needs_the_token_and_ends_the_session(people):
    client = people.test_client()
    sign_in(client)
    assert client.post("/logout").status_code == 400  # a cross-site post cannot sign her out
    page = client.get("/").data
    assert client.post("/logout", data={"csrf": token(page)}).status_code == 302
    assert client.get("/").status_code == 302


def test_only_local_pages_may_follow_sign_in(people):
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = sign_in(people.test_client(), next_page=target)
        assert response.status_code == 302 and response.location == "/"


def test_every_word_of_the_interface_has_a_lao_translation():
    with open(DASHBOARD / "translations" / "lo" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        lao = {message.id: message.string for message in read_po(handle) if message.id}
    # The same files and keywords as translations/README.md's `pybabel extract`.
    with open(DASHBOARD / "babel.cfg") as handle:
        method_map, _options = parse_mapping_cfg(handle)
    used = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(DASHBOARD.parent), method_map, keywords={"_": None, "InputProblem": None}
        )
    }
    untranslated = sorted(m for m in used if not lao.get(m))
    assert not untranslated, f"run pybabel update for {untranslated}"


def test_the_first_page_is_light_and_served_locally(people):
    client = people.test_client()
    login = client.get("/login")
    assert b"http://" not in login.data and b"https://" not in login.data  # no CDN
    css = client.get("/static/dashboard/dashboard.css")
    script = client.get("/static/dashboard/dashboard.js")
    font = client.get("/fonts/phetsarath.ttf")
    assert css.status_code == 200 and font.status_code == 200 and font.mimetype == "font/ttf"
    assert script.status_code == 200
    assert len(login.data) + len(css.data) + len(script.data) + len(font.data) <= 300 * 1024


def test_the_users_page_is_for_admins_and_explains_a_refusal_in_her_language(people):
    from flask.testing import FlaskClient

    outsider = FlaskClient(people)
    assert outsider.get("/users").status_code == 302  # to sign-in
    assert outsider.post("/users", data={"email": "x@ngo.la"}).status_code in (302, 400)
    viewer = people.test_client()
    sign_in(viewer, "kham@ngo.la")
    assert viewer.get("/users").status_code == 403
    admin = people.test_client()
    sign_in(admin)
    switch_language(admin, "lo")
    csrf = token(admin.get("/users").data)
    bad = admin.post(
        "/users",
        data={"csrf": csrf, "email": "not-an-email", "role": "organiser", "language": "lo", "password": PASSWORD},
    )
    assert bad.status_code == 400 and "ບໍ່ແມ່ນທີ່ຢູ່ອີເມວ" in bad.get_data(as_text=True)
    short = admin.post(
        "/users", data={"csrf": csrf, "email": "new@ngo.la", "role": "organiser", "language": "lo", "password": "short"}
    )
    assert short.status_code == 400 and "ລະຫັດຜ່ານຕ້ອງມີຢ່າງໜ້ອຍ 10" in short.get_data(as_text=True)
    assert 'value="new@ngo.la"' in short.get_data(as_text=True)  # what she typed is kept
    with runtime_of(people).db.session() as db:
        admin_id = accounts.by_email(db, "admin@ngo.la").id
        assert accounts.by_email(db, "new@ngo.la") is None  # nothing half-written
    last = admin.post(f"/users/{admin_id}/role", data={"csrf": csrf, "role": "viewer"})
    assert last.status_code == 400 and "ຜູ້ດູແລລະບົບຄົນດຽວ" in last.get_data(as_text=True)
    with runtime_of(people).db.session() as db:
        assert accounts.by_email(db, "admin@ngo.la").role == "admin"
    assert admin.post("/users/99999999999/disable", data={"csrf": csrf}).status_code == 404
