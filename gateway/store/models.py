"""SQLAlchemy 2 models. The same schema runs on SQLite and PostgreSQL.

Times are stored as UTC and always come back timezone-aware (``UTCDateTime``),
so nothing downstream has to guess which zone a naive datetime was in.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from gateway.store import states


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime; give it a time zone")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Null once the member is erased; the row stays so aggregate counts survive.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    # On a voice call these hold the recording's URL in place of text.
    name: Mapped[str | None] = mapped_column(String(300))
    organisation: Mapped[str | None] = mapped_column(String(300))
    province: Mapped[str | None] = mapped_column(String(40), index=True)
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16), default="ussd")
    # When her SMS conversation last moved (None: none open). The state itself is in
    # Redis; this copy lets a poll answer be told apart from a menu answer without it.
    sms_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How she wants session reminders: "sms" or "voice" (a phone call).
    reminder_channel: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last START after a STOP
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    topic_rows: Mapped[list["MemberTopic"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MemberTopic.topic"
    )

    @property
    def topics(self) -> list[str]:
        return [row.topic for row in self.topic_rows]

    @property
    def registered(self) -> bool:
        return self.consent_at is not None and self.erased_at is None


class MemberTopic(Base):
    """One topic group a member follows; a table so broadcasts can filter in SQL."""

    __tablename__ = "member_topics"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class TrainingSession(Base):
    """A hangout, training or community-of-practice meeting."""

    __tablename__ = "training_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="hangout")
    topic: Mapped[str] = mapped_column(String(40), index=True)
    language: Mapped[str] = mapped_column(String(8))
    titles: Mapped[dict] = mapped_column(JSON)  # {"lo": "...", "en": "..."}
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    place: Mapped[str | None] = mapped_column(String(200))
    join_link: Mapped[str | None] = mapped_column(String(300))
    dial_in: Mapped[str | None] = mapped_column(String(60))
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Ask enrolled members a feedback poll this long after the end; None: do not ask.
    feedback_after_minutes: Mapped[int | None] = mapped_column(Integer)
    # This session's own reminder wording, by language; None: the shared reminder text.
    reminder_texts: Mapped[dict | None] = mapped_column(JSON)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enrolment(Base):
    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("member_id", "session_id", name="uq_enrolment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="ussd")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # "I will come", on a reminder call


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(80), unique=True)  # engine's attempt id
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    quiz: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="ussd")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)

    answers: Mapped[list["QuizAnswer"]] = relationship(cascade="all, delete-orphan", order_by="QuizAnswer.id")


class QuizAnswer(Base):
    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question", name="uq_quiz_answer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(60))
    choice: Mapped[str] = mapped_column(String(8))
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResponse(Base):
    """One member's answers to one survey (``content.survey``): a new answer replaces
    her old one. Province and language are copied as they were when she answered,
    as a vote's are. A sensitive survey's rows are deleted when it closes, and only
    its totals stay (``SurveyClosure``)."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("survey", "member_id", name="one_response_per_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey: Mapped[str] = mapped_column(String(40), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    province: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(8))
    answers: Mapped[list] = mapped_column(JSON)  # one per question: an option's number, 0-10, or text
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyClosure(Base):
    """A survey closed: by its date or by an organiser. For a sensitive survey, the
    totals it was closed with (groups under five already hidden), its answers gone."""

    __tablename__ = "survey_closures"

    survey: Mapped[str] = mapped_column(String(40), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    responses: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[dict | None] = mapped_column(JSON)


class OutboundMessage(Base):
    """The outbox: one row per message we mean to send, the database's promise.

    A row is claimed (``queued`` -> ``sending``) atomically before the provider is
    called, and the provider's id is recorded after, so a retried job never sends
    twice. ``broadcast_id`` is null for conversational replies.
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "member_id", name="uq_outbound_broadcast_member"),
        states.check("outbound_messages", states.MessageState),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="reply")  # reply | bulk | callback
    channel: Mapped[str] = mapped_column(String(8), default="sms")  # sms | voice (a call)
    body: Mapped[str] = mapped_column(String(1600))
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    # queued -> sending -> sent -> delivered | failed | unknown (settled after a crash)
    status: Mapped[str] = mapped_column(String(12), default=states.MessageState.QUEUED, index=True)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(String(200))
    # Which job claimed the row: a batch job claims many rows in one UPDATE, then
    # reads back exactly the ones it won.
    claim: Mapped[str | None] = mapped_column(String(32), index=True)
    # The RQ job that will send a queued row (its id is deterministic): the
    # reconciler queues it again only if Redis no longer has that job.
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Provider requests made for this row, across every job that ever held it.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboundMessage(Base):
    """Each inbound SMS once: the unique key is how replays and concurrent
    duplicates of the same provider message are recognised."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("provider", "provider_message_id", name="uq_inbound_provider_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    keyword: Mapped[str | None] = mapped_column(String(12))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberText(Base):
    """A text a member sent that no keyword, conversation or poll took: a question for
    the organisers, kept for the inbox (``/inbox``) until retention blanks it or she
    is erased. Their answers are outbox rows of kind ``answer``."""

    __tablename__ = "member_texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(254))


class InboxMessage(Base):
    """An inbound SMS accepted but not yet processed: the webhook's one short write.

    The inbox drainer (``channels/sms/inbox.py``) processes these in batches and
    deletes each once processed, so her number and text sit here only for
    moments. The unique key drops a redelivery while the first copy still waits;
    ``inbound_messages`` recognises one that comes after. On SQLite the inbox is
    this table in a file of its own (``inbox.db`` in the instance folder), so the
    migration's table in the main file stays empty there.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("provider", "provider_message_id", name="uq_inbox_provider_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Broadcast(Base):
    """One announcement to many members: a text per language and an audience.

    Its outbox rows are unique per (broadcast, member), so sending it twice, or two
    workers on it at once, sends one set of messages.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (states.check("broadcasts", states.BroadcastState),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    texts: Mapped[dict] = mapped_column(JSON)  # {"lo": "...", "en": "..."}
    audience: Mapped[dict] = mapped_column(JSON)  # see gateway.audience.Audience
    session_id: Mapped[int | None] = mapped_column(ForeignKey("training_sessions.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=states.BroadcastState.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reminders go to each member the way she chose (SMS or a call); other broadcasts by SMS.
    by_preference: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # Held until then (quiet hours, a poll that opens later); the reconciler respects it.
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An admin sent it in quiet hours on purpose (audited): nothing holds it until morning.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Reminder(Base):
    """A reminder for a session, ``offset_minutes`` before it starts.

    The row is the truth; the RQ job at ``due_at`` is only a trigger. Moving the
    session moves ``due_at``; cancelling it cancels the row. A job that finds the
    row not ``scheduled``, or not yet due, does nothing.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("session_id", "offset_minutes", name="uq_reminder_offset"),
        states.check("reminders", states.ReminderState),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True)
    offset_minutes: Mapped[int] = mapped_column(Integer)  # before the start; negative is after
    kind: Mapped[str] = mapped_column(String(12), default="reminder", server_default="reminder")  # reminder | feedback
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(12), default=states.ReminderState.SCHEDULED)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))


class Poll(Base):
    """A question with numbered options, sent by SMS and answered by text or USSD.

    The question goes out as an ordinary broadcast (``broadcast_id``), so cost
    preview, quiet hours, opt-outs and the no-duplicates rule come with it.
    """

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # what members may type first: P4
    kind: Mapped[str] = mapped_column(String(12), default="poll")  # poll | feedback
    questions: Mapped[dict] = mapped_column(JSON)  # {"lo": "...", "en": "..."}
    options: Mapped[list] = mapped_column(JSON)  # [{"lo": "...", "en": "..."}, ...], numbered from 1
    audience: Mapped[dict] = mapped_column(JSON)  # see gateway.audience.Audience
    session_id: Mapped[int | None] = mapped_column(ForeignKey("training_sessions.id", ondelete="SET NULL"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))
    confirm: Mapped[bool] = mapped_column(Boolean, default=False)  # thank each voter by SMS (costs a message)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by hand, or once closes_at passed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and self.opens_at <= now < self.closes_at


class PollVote(Base):
    """One member's current answer to one poll.

    Province and language are copied from the member when she votes, so the
    breakdowns are one indexed scan and survive her erasure as counts.
    """

    __tablename__ = "poll_votes"
    __table_args__ = (
        UniqueConstraint("poll_id", "member_id", name="uq_poll_vote"),
        Index("ix_poll_votes_tally", "poll_id", "option", "province", "language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    option: Mapped[int] = mapped_column(Integer)
    province: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    first_voted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PollReply(Base):
    """A reply that did not count: not one of the options, or after closing."""

    __tablename__ = "poll_replies"
    __table_args__ = (Index("ix_poll_replies_poll_member", "poll_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(12))  # invalid | closed
    text: Mapped[str] = mapped_column(String(160))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Who did what to whom, and when: sends, edits, cancellations, erasures.

    ``subject`` names a row (``member 12``), never a phone number or a name, so the
    log itself can be kept after the member is erased.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str | None] = mapped_column(String(500))


class User(Base):
    """An organiser's account for the dashboard. The password is kept only as an
    scrypt hash. ``session_version`` is named in her sign-in cookie: raising it ends
    every session of hers at once (sign-out, a new password, a new role, disabling)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))  # admin | organiser | viewer
    language: Mapped[str] = mapped_column(String(8), default="lo")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # unused: tries are counted in Redis
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # unused, as above
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ContentVersion(Base):
    """One version of what members read and hear: flows, prompt catalogs (and what
    grows from them), as YAML documents in the same shape as the files in the
    repository. Exactly one version is ``published`` (a partial unique index keeps it
    so, even against two publishers at once); earlier ones are ``past``; ``draft``
    ones wait for a check and a publish. Versions are never edited once published:
    reverting publishes a copy, so the history reads forward."""

    __tablename__ = "content_versions"
    __table_args__ = (
        Index(
            "one_published_version",
            "status",
            unique=True,
            sqlite_where=sql("status = 'published'"),
            postgresql_where=sql("status = 'published'"),
        ),
        states.check("content_versions", states.VersionState),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # states.VersionState
    source: Mapped[str] = mapped_column(String(40))  # shipped | import | dashboard | revert
    note: Mapped[str | None] = mapped_column(String(500))
    author: Mapped[str] = mapped_column(String(254))
    based_on: Mapped[int | None] = mapped_column(Integer)  # the version a draft started from
    # The shipped content a "shipped" version was made from, once per release: two
    # processes starting at once offer an upgrade's content once, not twice.
    shipped_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ContentDocument(Base):
    """One YAML document of a version: ``flows/main.yaml``, ``prompts/lo.yaml``."""

    __tablename__ = "content_documents"

    version_id: Mapped[int] = mapped_column(ForeignKey("content_versions.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class ContentEdit(Base):
    """One text changed in the dashboard's wording editor and not published yet: all
    of them together are the draft the editors share. ``base`` is the text the editor
    started from, so a change made meanwhile by someone else is a conflict, shown to
    her, never overwritten (``None``: the key had no text in that language)."""

    __tablename__ = "content_edits"
    __table_args__ = (UniqueConstraint("language", "key", name="one_edit_per_text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    base: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(254))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeploymentSecret(Base):
    """A secret the whole deployment shares (``secret_key``, ``webhook_token``): made
    once, by whichever host asks first (the primary key settles two asking at once),
    and read by every other, so no host keys sessions or webhooks with its own."""

    __tablename__ = "deployment_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recording(Base):
    """An organiser's recording of one prompt (the studio, record-by-phone, an
    import), as 8 kHz WAV, with the text it was read from: kept here so that every
    web host plays and serves it, whichever host or worker received it."""

    __tablename__ = "recordings"

    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    text: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(254), default="")
    source: Mapped[str] = mapped_column(String(40), default="")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ErasureTombstone(Base):
    """That a number was erased, and when: a keyed hash of it (``phone_key``), never
    the number. A text from her accepted before the erasure and processed after it
    (one that waited in a host's outage spool) is dropped, not made a new member."""

    __tablename__ = "erasure_tombstones"

    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
