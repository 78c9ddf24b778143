"""SMPP to an aggregator's SMSC: one long-lived bind held by the link, against a
small SMSC the tests start (binds, submit_sm in UCS-2 parts, inbound texts,
receipts, keep-alives, and a connection dropped mid-broadcast)."""

import pytest
from sqlalchemy import func, select

from gateway.messaging import broadcasts, bulk
from gateway.messaging.audience import Audience
from gateway.runtime import runtime_of
from gateway.store.models import InboundMessage, OutboundMessage

from .fake_smsc import FakeSmsc
from .fakes import drain
from .helpers import LinkThread, add_member, smpp_settings, wait_until

MEMBER = "+8562055580001"
LONG_LAO = (
    "ເຕືອນ: ກອງປະຊຸມແລກປ່ຽນບົດຮຽນ ໂພຊະນາການແມ່ ແລະ ເດັກ ຈະເລີ່ມ ວັນເສົາ ທີ 5 ທັນວາ "
    "ເວລາ 14:00 ໂມງ ທີ່ຫ້ອງປະຊຸມ ສະຫະພັນແມ່ຍິງ ແຂວງສາລະວັນ. ກະລຸນາມາກ່ອນເວລາ 10 ນາທີ."
)


@pytest.fixture
def smsc():
    fake = FakeSmsc()
    yield fake
    fake.stop()


@pytest.fixture
def linked(make_app, smsc):
    app = make_app(**smpp_settings(smsc.port, quiet_hours="off", provider_timeout_ms=4000))
    running = LinkThread(app)
    smsc.wait_bound()
    app.link = running.link
    yield app
    running.stop()


def rows(app):
    with runtime_of(app).db.session() as db:
        return list(db.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_a_long_lao_text_goes_as_ucs2_parts_joined_by_a_udh(linked, smsc):
    provider = runtime_of(linked).provider
    [outcome] = provider.send(LONG_LAO, [MEMBER], ids=["og-1"], urgent=True)
    assert outcome.accepted and outcome.provider_message_id == smsc.submits[0]["id"]
    assert len(LONG_LAO) > 134 and len(smsc.submits) == 3  # 67 UCS-2 characters a part
    assert {p["data_coding"] for p in smsc.submits} == {8} and all(p["esm_class"] & 0x40 for p in smsc.submits)
    assert [p["registered_delivery"] for p in smsc.submits] == [1, 0, 0]
    assert smsc.texts[outcome.provider_message_id] == LONG_LAO and smsc.submits[0]["to"] == MEMBER[1:]
    assert smsc.binds == 1  # one bind for everything: no connection per message


def test_inbound_texts_are_answered_and_receipts_settle_the_row(linked, smsc):
    smsc.deliver(MEMBER, "HELP")
    # The link stores her text in the inbox; the worker's drainer makes the reply.
    wait_until(lambda: runtime_of(linked).inbox.drain() or rows(linked), 10, "the reply to HELP queued")
    drain(linked)  # the reply job hands the text to the link
    [row] = rows(linked)
    assert row.status == "sent" and smsc.texts[row.provider_message_id].startswith("ສົ່ງຄຳວ່າ:")
    smsc.receipt(row.provider_message_id, "DELIVRD")
    wait_until(lambda: rows(linked)[0].status == "delivered", 10, "the receipt settling the row")


def test_a_long_inbound_text_in_parts_is_one_text(linked, smsc):
    smsc.deliver(MEMBER, LONG_LAO)  # arrives as three deliver_sm
    wait_until(lambda: smsc.delivered >= 3, 10, "the link to answer all three parts")
    wait_until(lambda: runtime_of(linked).inbox.drain() or rows(linked), 10, "her text answered")
    runtime_of(linked).inbox.drain()  # as the worker's drainer does
    with runtime_of(linked).db.session() as db:
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert len(rows(linked)) == 1  # one help text, for one text


def test_enquire_link_keeps_an_idle_bind(linked, smsc):
    wait_until(lambda: smsc.enquire_links >= 1, 5, "an enquire_link on the idle bind (SMPP_ENQUIRE_S=1)")
    assert smsc.binds == 1


def test_a_connection_dropped_mid_broadcast_loses_nothing_and_sends_nothing_twice(linked, smsc):
    with runtime_of(linked).db.session() as db:
        for n in range(30):
            add_member(db, f"+85620558{10000 + n}")
        broadcast_id = broadcasts.create(db, {"lo": "ເຕືອນ: ພົບກັນມື້ນີ້ 14:00 ໂມງ"}, Audience(), "drop").id
    smsc.drop_after = 10  # the line goes dead at the eleventh submit_sm
    bulk.dispatch(runtime_of(linked).services, broadcast_id)
    drain(linked)
    statuses = [r.status for r in rows(linked)]
    sent_to = [p["to"] for p in smsc.submits]
    assert smsc.binds == 2  # bound again after the drop
    assert len(sent_to) == len(set(sent_to))  # nobody got it twice
    assert statuses.count("sent") == len(sent_to)  # every text the SMSC took is recorded sent
    assert set(statuses) <= {"sent", "unknown"} and 1 <= statuses.count("unknown") <= 6  # the window
    assert statuses.count("sent") + statuses.count("unknown") == 30  # none lost
