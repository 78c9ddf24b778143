"""POST /ussd/africastalking with real Africa's Talking payload shapes."""

import json
import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.channels.ussd.service import new_input
from gateway.runtime import runtime_of
from gateway.store import members
from gateway.store.models import Enrolment, Member

from .helpers import add_member, add_session, body, walk

AT_FORM = {
    "sessionId": "ATUid_5e1a6c0c0d4f",
    "serviceCode": "*384*1#",
    "phoneNumber": "+8562055510001",
    "networkCode": "45701",
    "text": "",
}


def post(client, token=None, **fields):
    url = "/ussd/africastalking" + (f"?token={token}" if token is not None else "")
    return client.post(url, data={**AT_FORM, **fields})


def test_first_hop_is_plain_text_con(client):
    response = post(client)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True).startswith("CON ຍິນດີຕ້ອນຮັບ!")


def test_new_input_comes_from_history_not_a_blind_split():
    assert new_input("", "1") == "1"
    assert new_input("1", "1*No*y") == "No*y"  # a name with a star survives
    assert new_input("1*No*y", "1*No*y*0") == "0"
    assert new_input("9*9", "1*2") == "2"  # diverged history: best guess


def test_an_input_containing_a_star_is_kept_whole(app, handset):
    walk(handset, "0", "No*y", "0", "1", "1", "1 3", "1")
    with runtime_of(app).db.session() as db:
        assert members.by_phone(db, "+8562055510001").name == "No*y"


def test_retransmitted_hop_gets_same_reply_and_applies_nothing_twice(app, client, handset):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        add_session(db, capacity=5)
    walk(handset, "1")
    enrol_reply = handset.press("1")
    assert "ລົງຊື່ແລ້ວ" in enrol_reply
    for _ in range(3):  # the telco resends the same hop
        again = post(client, sessionId=handset.session_id, phoneNumber=handset.phone, text=handset.text)
        assert again.get_data(as_text=True) == enrol_reply
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Enrolment)) == 1


def test_concurrent_duplicate_hops_apply_once(app, handset):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        add_session(db)
    walk(handset, "1")
    text = f"{handset.text}*1"
    replies = []

    def send():
        with app.test_client() as c:
            replies.append(
                post(c, sessionId=handset.session_id, phoneNumber=handset.phone, text=text).get_data(as_text=True)
            )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(replies)) == 1 and "ລົງຊື່ແລ້ວ" in replies[0]
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Enrolment)) == 1


def test_token_is_required_when_configured_and_403_changes_nothing(make_app):
    app = make_app(at_webhook_token="s3cret-token")
    client = FlaskClient(app)  # posts exactly what it is given: no token added
    redis = runtime_of(app).redis
    before = set(redis.keys("*"))
    for token in (None, "", "wrong", "s3cret-toke"):
        response = post(client, token=token)
        assert response.status_code == 403
        assert response.get_data(as_text=True).startswith("END ")
    assert set(redis.keys("*")) == before
    assert post(client, token="s3cret-token").status_code == 200


def test_each_phone_is_rate_limited(make_app):
    app = make_app(ussd_rate_limit=5)
    client = app.test_client()
    replies = [post(client, sessionId=f"s{n}").get_data(as_text=True) for n in range(7)]
    assert all(r.startswith("CON") for r in replies[:5])
    assert replies[5].startswith("END") and "ລໍຖ້າ 1 ນາທີ" in replies[5]
    other = post(client, sessionId="other", phoneNumber="+8562055519999")
    assert other.get_data(as_text=True).startswith("CON")  # other numbers are not affected


def test_sessions_expire_in_redis(app, handset):
    handset.dial()
    redis = runtime_of(app).redis
    keys = [k for k in redis.keys("ussd:s:*") if not k.endswith(b":lock")]
    assert keys and all(0 < redis.ttl(k) <= 180 for k in keys)


def test_cut_off_member_can_resume_where_she_left_off(phone_factory):
    phone = phone_factory()
    walk(phone, "ນ້ອຍ", "0")  # cut off at the region question
    offer = phone.dial()  # dials again: a new session id
    assert "ສືບຕໍ່ຈາກບ່ອນທີ່ຄ້າງໄວ້" in offer
    resumed = phone.press("1")
    assert "ທ່ານຢູ່ພາກໃດ?" in resumed
    assert "ແຂວງໃດ?" in phone.press("2")  # and the flow carries on from there


def test_resume_offer_can_start_over(phone_factory):
    phone = phone_factory()
    walk(phone, "0", "Noy")
    assert "Go on where you left off?" in phone.dial()
    assert "(English: 0)" in phone.press("2")  # afresh, in Lao first


def test_no_resume_offer_after_finishing(app, phone_factory):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
    phone = phone_factory()
    walk(phone, "5")  # Help
    assert phone.dial().startswith("CON ສະບາຍດີ!")  # main menu: nothing to resume


def test_regional_digits_work_as_menu_keys(handset):
    handset.dial()
    assert handset.press("໐") == "CON Welcome! Please type your name:\n(ພາສາລາວ: 0)"
    assert "1. North" in (handset.press("Noy"), handset.press("໐"))[1]  # and as menu keys: 0 = none
    assert handset.press("໑").startswith("CON Which province?")


def test_a_redis_restart_forgetting_the_scripts_costs_no_hop(app, phone_factory):
    """Each hop is two Lua scripts; a restarted Redis has forgotten them. The hop
    loads them again and goes on: nothing lost, and the session is not left locked."""
    phone = phone_factory()
    walk(phone, "0", "Noy")
    redis = runtime_of(app).redis
    redis.script_flush()
    assert "1. North" in phone.press("0")  # organisation: none
    redis.script_flush()
    assert phone.press("1").startswith("CON Which province?")
    assert not [k for k in redis.keys("ussd:s:*") if k.endswith(b":lock")]
    redis.script_flush()
    assert "Go on where you left off?" in phone.dial()  # the new session's open read her resume slot


def test_unknown_session_with_text_starts_cleanly(client):
    reply = post(client, sessionId="never-seen", text="1*2*3").get_data(as_text=True)
    assert reply.startswith("CON ຍິນດີຕ້ອນຮັບ!")


def test_corrupt_stored_state_starts_over_rather_than_failing(app, client, handset):
    handset.dial()
    redis = runtime_of(app).redis
    key = [k for k in redis.keys("ussd:s:*") if not k.endswith(b":lock")][0]
    record = json.loads(redis.get(key))
    record["state"]["node"] = "a-node-that-was-deleted"
    redis.set(key, json.dumps(record))
    reply = handset.press("1")
    assert reply.startswith("CON ຍິນດີຕ້ອນຮັບ!")


def test_unreadable_stored_records_start_afresh_and_leave_no_lock(app, phone_factory):
    redis = runtime_of(app).redis
    phone = phone_factory()
    walk(phone, "0", "Noy")  # in a flow: a resume slot is kept
    [slot] = redis.keys("ussd:resume:*")
    redis.set(slot, b"{not json\xff")
    assert phone.dial().startswith("CON ຍິນດີຕ້ອນຮັບ!")  # nothing to offer: afresh
    for key in redis.keys("ussd:s:*"):
        if not key.endswith(b":lock"):
            redis.set(key, b"[1, 2")
    assert phone.press("0").startswith("CON ຍິນດີຕ້ອນຮັບ!")  # her record: start over
    assert phone.press("0").startswith("CON Welcome!")  # and the session goes on
    assert not [k for k in redis.keys("ussd:s:*") if k.endswith(b":lock")]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,
        "😀🔥" * 50,
        "*#*#*",
        "#",
        "1' OR '1'='1; DROP TABLE members;--",
        "\x00\x01\x1b[2J",
        "ສ" * 3000,
        "98*98*98*0*0*0",
    ],
)
def test_hostile_input_gets_a_valid_reply(app, client, text):
    first = post(client, sessionId="hostile")
    assert first.status_code == 200
    response = post(client, sessionId="hostile", text=text)
    assert response.status_code == 200
    assert response.get_data(as_text=True)[:4] in ("CON ", "END ")
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(Member)) == 0


@pytest.mark.parametrize(
    "form", [{}, {"sessionId": ""}, {"phoneNumber": "not-a-number"}, {"phoneNumber": "+" + "9" * 40}]
)
def test_missing_or_broken_fields_get_an_end_reply(client, form):
    response = client.post("/ussd/africastalking", data={**AT_FORM, **form} if form else {})
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("END ")


def test_an_internal_failure_becomes_an_end_reply_not_a_500(app, client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(runtime_of(app).conversations, "start", explode)
    response = post(client, sessionId="boom")
    assert response.status_code == 200
    assert body(response.get_data(as_text=True)) == "ຂໍອະໄພ, ລະບົບມີບັນຫາ. ກະລຸນາລອງໃໝ່ພາຍຫຼັງ."


def test_a_wrong_key_on_the_resume_offer_is_no_trap(phone_factory):
    """The reported trap: dial, 1, a name, hang up; dial again, 7, then 98. The
    options must stay in sight, 98 must not count as an answer, and wrong keys
    must not go on for ever."""
    phone = phone_factory()
    walk(phone, "ນ້ອຍ")
    phone.dial()
    retry = phone.press("7")
    assert retry.startswith("CON ") and "1. ສືບຕໍ່" in retry and "98" not in retry
    assert len(retry) - 4 <= 80
    again = phone.press("98")
    assert "1. ສືບຕໍ່" in again  # still the offer, options in sight
    fresh = phone.press("98")  # a third wrong key: she simply starts afresh
    assert "ກະລຸນາພິມຊື່ຂອງທ່ານ" in fresh


def test_no_resume_offer_after_a_flow_ended(app, phone_factory):
    with runtime_of(app).db.session() as db:
        add_session(db)
    phone = phone_factory()
    done = walk(phone, "ນ້ອຍ", "0", "3", "1", "1 3", "1")[-1]
    assert done.startswith("END ") and "ລົງທະບຽນແລ້ວ" in done
    assert phone.dial().startswith("CON ສະບາຍດີ!")  # registered: no "go on?" offer
    walk(phone, "1")
    assert phone.press("1").startswith("END ")  # signed up
    assert phone.dial().startswith("CON ສະບາຍດີ!")


def test_a_lao_name_keeps_the_english_menu_on_one_page(app, phone_factory):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001", name="ສຸກສະຫວັນ ພົມມະຈັນ", language="en")
    menu = phone_factory().dial()
    assert menu.startswith("CON Hello ") and "5. Help" in menu and "98" not in menu
    assert len(menu) - 4 <= 80


def test_an_option_she_has_not_been_shown_does_not_count(app, phone_factory):
    phone = phone_factory()
    first = walk(phone, "ນ້ອຍ", "0", "1")[-1]  # the northern provinces: two pages
    assert "98" in first and "7." not in first
    retry = phone.press("7")  # Xayaboury is on page 2, which she has not seen
    assert retry.startswith("CON ກະລຸນາພິມຕົວເລກ 1 ຫາ 5.")
    phone.press("98")
    assert "ຫົວຂໍ້ໃດ?" in phone.press("7")  # seen now: it counts
    with runtime_of(app).db.session() as db:
        assert members.by_phone(db, "+8562055510001") is None  # nothing stored before consent


def test_signing_up_texts_where_and_how_to_join(app, phone_factory):
    """The screen has no room for a link: it goes by SMS, queued once the sign-up
    has committed, in her language, with the date in full."""
    from gateway import broker
    from gateway.store.models import OutboundMessage

    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001")
        add_session(db)
    phone = phone_factory()
    walk(phone, "1", "1")
    with runtime_of(app).db.session() as db:
        [row] = db.scalars(select(OutboundMessage)).all()
        body, row_id = row.body, row.id
    assert body == ("ພົບປະລົມກັນ: ໂພຊະນາການແມ່ ແລະ ເດັກ\nວັນສຸກ ທີ 11 ມັງກອນ ເວລາ 14:00 ໂມງ\nmeet.jit.si/nutrition")
    queued = runtime_of(app).queues["replies"].job_ids
    assert queued == [broker.message_job_id(row_id)]  # its id only: no number in the job
