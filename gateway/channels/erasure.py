"""Erasing a member from everywhere the gateway holds her: the database
(``store/privacy.py`` says what goes and what stays), Redis (her USSD session,
resume slot, rate counters and call-back), and the texts of hers that were
accepted and not yet processed (the inbox, the outage spool, and the files where
texts that hit a bug are set aside).

The waiting texts matter: processed after she was erased, one would make her
number a new member again. So the erasure holds her texts from the drainers
(``Inbox.held``), her waiting texts on this host go before her row is erased, and
she leaves a tombstone (a keyed hash of her number, and when): a text of hers that
another host accepted before the erasure and kept in its outage spool is dropped
when it comes through, not made a new member. ``outreach members erase`` and the
dashboard's erase button both come here.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import broker
from gateway.channels.sms.inbox import Inbox
from gateway.channels.sms.spool import Spool
from gateway.phone import phone_key
from gateway.services import Services
from gateway.store import privacy
from gateway.store.models import ErasureTombstone, Member, utcnow


@dataclass(frozen=True)
class Erasure:
    member_id: int
    messages: int  # texts sent to her, their words blanked
    replies: int  # poll replies she typed, blanked
    waiting_texts: int  # hers, accepted and never processed: deleted
    redis_keys: int


def erase_member(services: Services, inbox: Inbox, spool: Spool, member_id: int, actor: str) -> Erasure:
    with services.db.session() as db:
        member = db.get(Member, member_id)
        phone = member.phone
    waiting = 0
    with inbox.held(phone or ""):
        if phone:
            # The spool first: its drain moves texts into the inbox, never back.
            waiting = spool.forget(phone) + inbox.forget(phone)
        with services.db.session() as db:
            erased = privacy.erase(db, db.get(Member, member_id), actor)
            if phone:  # another host's spool may hold a text of hers: it must not bring her back
                db.merge(ErasureTombstone(phone_hash=phone_key(phone, services.config.secret_key), erased_at=utcnow()))
    services.db.checkpoint()
    keys = broker.forget_member(
        services.redis, phone_key(phone, services.config.secret_key) if phone else "", member_id
    )
    return Erasure(member_id, erased.messages, erased.replies, waiting, keys)
