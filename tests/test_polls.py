"""Polls: every reply form in both languages over both providers and USSD, which poll
a reply goes to, closing, duplicates and concurrency, and the results."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.messaging import bulk, reconciler
from gateway.messaging.audience import Audience
from gateway.polls import answer as poll_answer
from gateway.polls import poll as polls
from gateway.polls import results as poll_results
from gateway.runtime import runtime_of
from gateway.store.models import OutboundMessage, PollReply, PollVote, utcnow

from .fakes import PROVIDER_TIMEOUT_MS, drain
from .helpers import PHONE, add_member, at_text, at_webhook, tw_text, walk

QUESTIONS = {"en": "Which topic next month?", "lo": "ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?"}
OPTIONS = [
    {"en": "Feeding babies", "lo": "ການລ້ຽງລູກອ່ອນ"},
    {"en": "Clean water", "lo": "ນ້ຳສະອາດ"},
    {"en": "Staying safe online", "lo": "ຄວາມປອດໄພອອນລາຍ"},
]


def open_poll(app, code="P4", audience=None, confirm=False, closes_in=timedelta(days=1)):
    """Create a poll and send its question through the real broadcast path."""
    now = utcnow()
    with runtime_of(app).db.session() as db:
        poll = polls.create(
            db,
            code,
            QUESTIONS,
            OPTIONS,
            audience or Audience(),
            now - timedelta(minutes=1),
            now + closes_in,
            confirm=confirm,
        )
        broadcast_id = polls.start_broadcast(db, poll, runtime_of(app).services.catalog).id
        poll_id = poll.id
    bulk.dispatch(runtime_of(app).services, broadcast_id)
    drain(app)
    return poll_id


def votes(app, poll_id):
    with runtime_of(app).db.session() as db:
        return {row.member_id: row for row in db.scalars(select(PollVote).where(PollVote.poll_id == poll_id))}


def only_vote(app, poll_id):
    found = votes(app, poll_id)
    assert len(found) == 1, found
    return next(iter(found.values())).option


def replies_to(app, phone=PHONE):
    from gateway.store import members

    with runtime_of(app).db.session() as db:
        member = members.by_phone(db, phone)
        return [
            m.body
            for m in db.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.member_id == member.id, OutboundMessage.broadcast_id.is_(None))
                .order_by(OutboundMessage.id)
            )
        ]


@pytest.fixture
def poll_app(make_app, fake_at):
    return make_app(
        sms_provider="africastalking",
        at_api_url=fake_at.url,
        at_username="outreach",
        at_api_key="key",
        quiet_hours="off",
        provider_timeout_ms=PROVIDER_TIMEOUT_MS,
    )


# ------------------------------------------------------------------ parsing (pure)


@pytest.mark.parametrize(
    "typed, option",
    [
        ("2", 2),
        (" 2. ", 2),
        ("໒", 2),
        ("๒", 2),
        ("២", 2),
        ("၂", 2),
        ("２", 2),
        ("b", 2),
        ("B", 2),
        ("c", 3),
        ("Clean water", 2),
        ("clean WATER!", 2),
        ("water", 2),
        ("online", 3),
        ("ນ້ຳສະອາດ", 2),
        ("ນ້ຳ", 2),
        ("ການລ້ຽງລູກອ່ອນ", 1),
        ("ອອນລາຍ", 3),
    ],
)
def test_every_reply_form_picks_its_option(typed, option):
    assert poll_answer.choose(typed, OPTIONS) == option


@pytest.mark.parametrize("typed", ["4", "0", "d", "z", "hello", "", "ok", "1 2", "ນ", "22"])
def test_replies_that_are_not_an_option(typed):
    assert poll_answer.choose(typed, OPTIONS) is None


@pytest.mark.parametrize(
    "typed, code, body",
    [
        ("P4 2", "P4", "2"),
        ("p4-b", "P4", "b"),
        ("P4: clean water", "P4", "clean water"),
        ("P4b", "P4", "b"),
        ("P໔ ໒", "P4", "2"),
        ("2", None, "2"),
        ("P42", None, "p42"),
        ("ນ້ຳສະອາດ", None, "ນ້ຳສະອາດ"),
    ],
)
def test_a_leading_code_is_split_off(typed, code, body):
    assert poll_answer.split(typed) == poll_answer.Answer(code, body)


# ------------------------------------------------------------------ replies by SMS


@pytest.mark.parametrize(
    "language, typed, option",
    [
        ("lo", "໒", 2),
        ("lo", "ນ້ຳສະອາດ", 2),
        ("lo", "c", 3),
        ("lo", "P4 1", 1),
        ("en", "2", 2),
        ("en", "Clean water", 2),
        ("en", "B", 2),
        ("en", "p4 a", 1),
    ],
)
def test_sms_replies_through_africas_talking_count(poll_app, language, typed, option):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE, language=language)
    poll_id = open_poll(poll_app)
    assert at_text(poll_app.test_client(), typed).status_code == 200
    assert only_vote(poll_app, poll_id) == option
    assert replies_to(poll_app) == []  # no thank-you SMS unless the poll asks for one


@pytest.mark.parametrize("typed, option", [("໓", 3), ("Staying safe online", 3), ("ການລ້ຽງລູກອ່ອນ", 1)])
def test_sms_replies_through_twilio_count(make_app, fake_twilio, typed, option):
    from .fakes import FakeTwilio

    app = make_app(
        sms_provider="twilio",
        twilio_api_url=fake_twilio.url,
        twilio_account_sid=FakeTwilio.SID,
        twilio_auth_token="tw-secret",
        twilio_from="+15005550006",
        public_base_url="https://gw.example.org",
        quiet_hours="off",
    )
    with runtime_of(app).db.session() as db:
        add_member(db, PHONE)
    poll_id = open_poll(app)
    assert len(fake_twilio.requests) == 1  # the question went out through Twilio
    assert tw_text(app.test_client(), typed).status_code == 200
    assert only_vote(app, poll_id) == option


def test_a_new_answer_replaces_the_old_and_keeps_the_first_time(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE)
    poll_id = open_poll(poll_app, confirm=True)
    client = poll_app.test_client()
    at_text(client, "1")
    first = next(iter(votes(poll_app, poll_id).values()))
    at_text(client, "3")
    second = next(iter(votes(poll_app, poll_id).values()))
    assert (second.option, second.first_voted_at) == (3, first.first_voted_at)
    assert second.voted_at >= first.voted_at
    assert replies_to(poll_app) == [
        "ຂອບໃຈ! ຄຳຕອບຂອງທ່ານສຳລັບແບບສຳຫຼວດ P4: ການລ້ຽງລູກອ່ອນ. ຢາກປ່ຽນ ສົ່ງເລກອື່ນມາ.",
        "ຂອບໃຈ! ຄຳຕອບຂອງທ່ານສຳລັບແບບສຳຫຼວດ P4: ຄວາມປອດໄພອອນລາຍ. ຢາກປ່ຽນ ສົ່ງເລກອື່ນມາ.",
    ]


def test_an_invalid_reply_gets_help_listing_the_answers_and_is_kept(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE, language="en")
    poll_id = open_poll(poll_app)
    client = poll_app.test_client()
    for _ in range(5):
        at_text(client, "maybe")
    assert (
        replies_to(poll_app)
        == [
            "Sorry, we could not read your answer to poll P4. Reply with a number (or a letter a-c):\n"
            "1 Feeding babies\n2 Clean water\n3 Staying safe online"
        ]
        * polls.INVALID_HELP_LIMIT
    )
    assert votes(poll_app, poll_id) == {}
    with runtime_of(poll_app).db.session() as db:
        results = poll_results.compute(db, db.get(polls.Poll, poll_id), "en")
    assert results.invalid_count == 5 and results.invalid[0][1:] == ("invalid", "maybe")


def test_without_a_code_the_most_recently_sent_open_poll_gets_the_answer(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE, language="en")
    older = open_poll(poll_app, "P4")
    newer = open_poll(poll_app, "P5")
    client = poll_app.test_client()
    at_text(client, "2")
    at_text(client, "P4 3")
    assert (only_vote(poll_app, older), only_vote(poll_app, newer)) == (3, 2)
    with runtime_of(poll_app).db.session() as db:
        polls.close(db, db.get(polls.Poll, newer))
    at_text(client, "1")  # P5 closed: the most recent *open* poll is P4
    assert (only_vote(poll_app, older), only_vote(poll_app, newer)) == (1, 2)


def test_a_reply_after_closing_gets_one_closed_message_and_does_not_count(poll_app, run):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE, language="en")
    poll_id = open_poll(poll_app)
    client = poll_app.test_client()
    assert "poll P4 closed" in run("poll", "close", "P4").output
    at_text(client, "2")
    at_text(client, "P4 2")
    assert votes(poll_app, poll_id) == {}
    assert replies_to(poll_app) == ["Thank you, but poll P4 has closed, so your reply was not counted."]


def test_the_same_inbound_message_twice_counts_once(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE)
    poll_id = open_poll(poll_app)
    client = poll_app.test_client()
    assert at_text(client, "2", message_id="ATXin-1").status_code == 200
    assert at_text(client, "3", message_id="ATXin-1").status_code == 200  # a redelivery
    assert only_vote(poll_app, poll_id) == 2


def test_a_batch_of_answers_counts_each_and_reads_her_row_as_the_batch_left_it(poll_app):
    """Answers processed in one batch, as the drainer takes them under load: the
    polls that reached the batch's members are read in one query and the votes
    written together, so check what a text at a time would give. Her second answer
    in the batch replaces her first and keeps its time as her first; a STOP earlier
    in the batch means her answer after it does not count; a redelivery counts once."""
    phones = [f"+8562055530{n:03d}" for n in range(4)]
    with runtime_of(poll_app).db.session() as db:
        ids = {add_member(db, phone, language="en").id: phone for phone in phones}
    poll_id = open_poll(poll_app, confirm=True)
    client = poll_app.test_client()
    for text, phone, message_id in [
        ("1", phones[0], "a0"),
        ("2", phones[1], "a1"),
        ("3", phones[0], "a0-again"),
        ("STOP", phones[2], "s2"),
        ("2", phones[2], "a2"),
        ("2", phones[1], "a1"),
        ("b", phones[3], "a3"),
    ]:
        assert at_webhook(client, text, phone, message_id).status_code == 200
    assert runtime_of(poll_app).inbox.drain() == 6  # the redelivery waited beside its first: dropped
    found = votes(poll_app, poll_id)
    assert {ids[member_id]: vote.option for member_id, vote in found.items()} == {
        phones[0]: 3,
        phones[1]: 2,
        phones[3]: 2,
    }
    changed = next(vote for member_id, vote in found.items() if ids[member_id] == phones[0])
    assert changed.first_voted_at < changed.voted_at
    assert replies_to(poll_app, phones[0]) == [
        "Thank you! Your answer to poll P4: Feeding babies. Send another number to change it.",
        "Thank you! Your answer to poll P4: Staying safe online. Send another number to change it.",
    ]
    assert replies_to(poll_app, phones[2]) == [
        "You will get no more messages from us. Text START to receive them again."
    ]


def test_concurrent_replies_from_one_member_leave_exactly_one_vote(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE)
    open_poll(poll_app)
    start = threading.Barrier(8)
    statuses = []

    def reply(n):
        client = poll_app.test_client()
        start.wait()
        statuses.append(at_text(client, str(n % 3 + 1), message_id=f"race-{n}").status_code)

    threads = [threading.Thread(target=reply, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    with runtime_of(poll_app).db.session() as db:
        assert db.scalar(select(func.count()).select_from(PollVote)) == 1


def test_keywords_still_win_and_conversations_asked_later_keep_their_answers(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE, language="en")
    poll_id = open_poll(poll_app)
    client = poll_app.test_client()
    at_text(client, "LANG")  # a conversation that started after the poll question
    at_text(client, "1")  # answers the language menu (1 = Lao), not the poll
    assert votes(poll_app, poll_id) == {}
    at_text(client, "HELP")
    assert replies_to(poll_app)[-1].startswith("ສົ່ງຄຳວ່າ: ສະໝັກ = ລົງທະບຽນ")  # help, now in Lao
    newer = open_poll(poll_app, "P5")  # asked after the conversation: replies go to it
    at_text(client, "2")
    assert only_vote(poll_app, newer) == 2 and votes(poll_app, poll_id) == {}


def test_members_the_poll_did_not_reach_are_not_counted(poll_app):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, PHONE, language="en", province="bokeo")
        add_member(db, "+8562055520002", language="en", province="saravane")
    poll_id = open_poll(poll_app, audience=Audience(provinces=("bokeo",)))
    at_text(poll_app.test_client(), "2", phone="+8562055520002")
    assert votes(poll_app, poll_id) == {}


# ------------------------------------------------------------------ USSD


def test_ussd_polls_menu_lists_open_polls_and_records_the_choice(poll_app, phone_factory):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, "+8562055510001", language="en")
    first, second = open_poll(poll_app, "P4"), open_poll(poll_app, "P5")
    phone = phone_factory("+8562055510001")
    screens = walk(phone, "3")
    assert "1. P5: Which topic next month?" in screens[-1] and "2. P4: Which topic" in screens[-1]
    screens = [phone.press("2")]
    assert "P4: Which topic next month?" in screens[0] and "2. Clean water" in screens[0]
    assert "Thanks! Your answer: Clean water." in phone.press("2")
    assert only_vote(poll_app, first) == 2 and votes(poll_app, second) == {}
    with runtime_of(poll_app).db.session() as db:
        assert db.scalar(select(PollVote.channel)) == "ussd"


def test_ussd_polls_menu_in_lao_with_one_poll_goes_straight_to_the_question(poll_app, phone_factory):
    with runtime_of(poll_app).db.session() as db:
        add_member(db, "+8562055510001", language="lo")
    poll_id = open_poll(poll_app)
    phone = phone_factory("+8562055510001")
    question = walk(phone, "3")[-1]
    assert question.startswith("CON P4: ເດືອນໜ້າ ຢາກລົມກັນເລື່ອງຫຍັງ?")
    options = phone.press("98")
    assert "2. ນ້ຳສະອາດ" in options
    assert "ຂອບໃຈ! ຄຳຕອບຂອງທ່ານ: ນ້ຳສະອາດ." in phone.press("2")
    assert only_vote(poll_app, poll_id) == 2


def test_ussd_polls_menu_with_nothing_open(app, phone_factory):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055510001", language="en")
    assert "There are no open polls for you right now." in walk(phone_factory("+8562055510001"), "3")[-1]


# ------------------------------------------------------------------ results and closing


def test_results_count_reach_breakdowns_and_closing_cancels_unsent_questions(poll_app):
    with runtime_of(poll_app).db.session() as db:
        for n, (province, language) in enumerate(
            [("bokeo", "lo"), ("bokeo", "en"), ("saravane", "lo"), ("saravane", "lo")]
        ):
            add_member(db, f"+85620555300{n:02d}", province=province, language=language)
    poll_id = open_poll(poll_app)
    client = poll_app.test_client()
    for n, typed in enumerate(["2", "2", "1"]):
        at_text(client, typed, phone=f"+85620555300{n:02d}")
    with runtime_of(poll_app).db.session() as db:
        results = poll_results.compute(db, db.get(polls.Poll, poll_id), "en")
    assert results.overall.votes == [1, 2, 0] and results.reached == 4
    assert round(results.response_rate, 1) == 75.0
    assert results.by_province["bokeo"].votes == [0, 2, 0]
    assert results.by_language["lo"].votes == [1, 1, 0]
    assert results.labels == ["Feeding babies", "Clean water", "Staying safe online"]
    table = poll_results.table(results)
    assert ["all", "all", 2, "Clean water", 2, "66.7"] in table


def test_the_reconciler_closes_polls_past_their_time_and_stops_unsent_questions(make_app):
    app = make_app(quiet_hours="00:00-23:59")  # the question waits for morning
    with runtime_of(app).db.session() as db:
        add_member(db, PHONE)
    now = utcnow()
    with runtime_of(app).db.session() as db:
        poll = polls.create(
            db, "P4", QUESTIONS, OPTIONS, Audience(), now - timedelta(hours=2), now - timedelta(minutes=1)
        )
        broadcast_id = polls.start_broadcast(db, poll, runtime_of(app).services.catalog).id
    bulk.dispatch(runtime_of(app).services, broadcast_id)
    reconciler.reconcile(runtime_of(app).services)
    with runtime_of(app).db.session() as db:
        assert db.scalar(select(polls.Poll.closed_at)) is not None
        assert db.scalar(select(OutboundMessage.status)) == "cancelled"
        assert db.scalar(select(func.count()).select_from(PollReply)) == 0
