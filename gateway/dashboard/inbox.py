"""The inbox: members' texts that are not keywords or answers, one thread per member,
answered from the page.

An answer is one SMS through the outbox (kind ``answer``), queued as replies are,
with its length and cost shown as she types; answering marks her texts handled.
Numbers are masked for viewers, who read but do not answer.
"""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway import broker
from gateway.dashboard.auth import bp, needs
from gateway.dashboard.broadcasts import alphabet, message_states
from gateway.dashboard.form import actor, found, services
from gateway.encoding import normalise_lao
from gateway.messaging import outbox
from gateway.phone import mask
from gateway.runtime import runtime
from gateway.store import audit, inbox
from gateway.store.models import Member, utcnow
from gateway.store.users import can

SHOW = ("unread", "handled", "all")
MAX_ANSWER = 1000


def _number(phone: str | None) -> str:
    return (phone if can(g.user, "see_numbers") else mask(phone)) if phone else "—"


@bp.get("/inbox")
@needs("read")
def inbox_list():
    show = request.args.get("show") if request.args.get("show") in SHOW else "unread"
    with runtime().db.session() as db:
        rows = [
            {
                "member_id": t.member_id,
                "name": t.name or "—",
                "phone": _number(t.phone),
                "at": t.last_at,
                "text": t.last_text,
                "unread": t.unread,
            }
            for t in inbox.threads(db, show)
        ]
    return render_template("dashboard/inbox.html", rows=rows, show=show)


def _thread_page(member_id: int, error: str | None = None, typed: str = "", status: int = 200):
    config = services().config
    with runtime().db.session() as db:
        member = db.get(Member, member_id)
        if member is None or member.erased_at is not None:
            return found(None)
        who = {
            "id": member.id,
            "name": member.name or "—",
            "phone": _number(member.phone),
            "language": member.language,
            "opted_out": member.opted_out_at is not None,
        }
        items = inbox.thread(db, member_id)
    if not items:
        return found(None)
    return render_template(
        "dashboard/inbox_thread.html",
        who=who,
        items=items,
        error=error,
        typed=typed,
        states=message_states(),
        alphabet=alphabet(),
        price=float(config.price_per_segment),
        currency=config.price_currency,
    ), status


@bp.get("/inbox/<int:member_id>")
@needs("read")
def inbox_thread(member_id: int):
    return _thread_page(member_id)


@bp.post("/inbox/<int:member_id>/reply")
@needs("send")
def inbox_reply(member_id: int):
    """Her answer: one SMS through the outbox, sent as replies are (quiet hours do not hold it)."""
    body = normalise_lao(request.form.get("text", "").replace("\r\n", "\n").strip())
    if not body:
        return _thread_page(member_id, _("Write the answer first."), body, 400)
    if len(body) > MAX_ANSWER:
        return _thread_page(
            member_id,
            _("The answer is %(length)s characters; keep it under %(most)s.", length=len(body), most=MAX_ANSWER),
            body[: MAX_ANSWER * 2],
            400,
        )
    with runtime().db.session() as db:
        member = db.get(Member, member_id)
        if member is None or member.erased_at is not None or not inbox.thread(db, member_id):
            return found(None)
        if member.opted_out_at is not None or not member.phone:
            db.rollback()
            return _thread_page(member_id, _("She has asked for no more texts (STOP): nothing can be sent."), body, 400)
        row = outbox.add(db, member, body, kind=inbox.ANSWER)
        inbox.handle(db, member_id, actor(), utcnow())
        audit.record(db, actor(), "inbox.answer", f"member {member_id}", f"{row.segments} SMS")
        message_id = row.id
    broker.enqueue_reply(services().queues, message_id, services().config)
    return redirect(url_for("dashboard.inbox_thread", member_id=member_id, sent=1))


@bp.post("/inbox/<int:member_id>/handled")
@needs("send")
def inbox_handled(member_id: int):
    """Nothing to answer (a thank-you, a wrong number): out of the unread."""
    with runtime().db.session() as db:
        if inbox.handle(db, member_id, actor(), utcnow()):
            audit.record(db, actor(), "inbox.handled", f"member {member_id}")
    return redirect(url_for("dashboard.inbox_list"))
