"""SQLAlchemy 2.0 typed models: the tables behind the core's repositories.

The same models run on SQLite (the embedded default) and PostgreSQL. Times are
stored as timezone-aware UTC; ``UTCDateTime`` restores the zone SQLite drops.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "BusinessNumber",
    "Contact",
    "Conversation",
    "Counter",
    "InboxEntry",
    "JobEntry",
    "LanePauseEntry",
    "Message",
    "RateHoldEntry",
    "ScheduledRun",
    "SlackEvent",
    "TemplateEntry",
    "WindowMark",
]

# Named constraints keep Alembic migrations identical on both engines.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: wabridge stores UTC-aware times only")
        value = value.astimezone(UTC)
        # SQLite keeps no zone; store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_time(value: datetime) -> str:
    """The text ``UTCDateTime`` stores for ``value`` on SQLite (SQLAlchemy's DATETIME format,
    the UTC wall time), for a statement sent past SQLAlchemy (``Repository._plain``)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: wabridge stores UTC-aware times only")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class BusinessNumber(Base):
    __tablename__ = "business_numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_phone_number: Mapped[str] = mapped_column(String(32))
    slack_channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    #: Set by ``wabridge numbers add``; None for rows conversations created (the default number).
    added_at: Mapped[datetime | None]
    waba_id: Mapped[str | None] = mapped_column(String(64))
    #: The number's own credentials; None: the environment's.
    access_token: Mapped[str | None] = mapped_column(String(1024))
    app_secret: Mapped[str | None] = mapped_column(String(256))


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # wa_id when Meta sends one, else the business-scoped user_id.
    contact_key: Mapped[str] = mapped_column(String(128), unique=True)
    wa_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("business_number_id", "contact_id"),
        UniqueConstraint("slack_channel", "slack_thread_ts"),
        Index("ix_conversations_last_message_at", "last_message_at"),
        # The window scan reads a range of window ends: its cost follows the windows about
        # to close, not every conversation ever. With the id, from the index alone.
        Index("ix_conversations_window_expires_at_id", "window_expires_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Random, so a post keyed by it is never mistaken for another installation's.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    business_number_id: Mapped[int] = mapped_column(ForeignKey("business_numbers.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    slack_channel: Mapped[str] = mapped_column(String(32))
    slack_thread_ts: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open")
    window_expires_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    last_message_from_agent_at: Mapped[datetime | None]
    last_message_from_contact_at: Mapped[datetime | None]
    messages_from_agent: Mapped[int] = mapped_column(default=0)
    messages_from_contact: Mapped[int] = mapped_column(default=0)
    total_messages: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_slack_ts", "slack_ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(16))
    sender_type: Mapped[str] = mapped_column(String(16))
    slack_user: Mapped[str | None] = mapped_column(String(32))
    message_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    wamid: Mapped[str | None] = mapped_column(String(256), unique=True)
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    shown_stages: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    played_at: Mapped[datetime | None]
    #: When its send began: from then on the agent's edit or delete comes too late.
    send_started_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    error_code: Mapped[int | None]
    error_title: Mapped[str | None] = mapped_column(String(512))
    error_message: Mapped[str | None] = mapped_column(Text)
    # How Meta prices the message, as its statuses said.
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    billable: Mapped[bool | None] = mapped_column(Boolean)
    pricing_model: Mapped[str | None] = mapped_column(String(32))


class InboxEntry(Base):
    """A raw webhook body, stored before Meta gets its 200."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        Index("ix_webhook_inbox_state_id", "state", "id"),
        # The claim's two kinds of pending webhook, each read without walking the other's:
        # new ones in the order they came, and those to be read again by when they are due.
        Index(
            "ix_webhook_inbox_fresh",
            "id",
            postgresql_where=text("state = 'pending' AND attempts = 0"),
            sqlite_where=text("state = 'pending' AND attempts = 0"),
        ),
        Index(
            "ix_webhook_inbox_waiting",
            "not_before",
            postgresql_where=text("state = 'pending' AND attempts > 0"),
            sqlite_where=text("state = 'pending' AND attempts > 0"),
        ),
        # The retention purge reads processed rows by age; partial, so that storing a webhook
        # (the hot path) never writes to it.
        Index(
            "ix_webhook_inbox_done_processed_at",
            "processed_at",
            postgresql_where=text("state = 'done'"),
            sqlite_where=text("state = 'done'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # a JobState
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime]
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]


class JobEntry(Base):
    """A queued job (``bridge.jobs``): in order per conversation and lane by ``seq``, claimed
    under a fenced lease (``lease_token``), and kept with its reason when it fails."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "ix_jobs_state_conversation_id_lane_seq",
            "state",
            "conversation_id",
            "lane",
            "seq",
            "arrival",
        ),
        Index("ix_jobs_state_not_before", "state", "not_before"),
        # The claim walks each lane's pending jobs oldest first and stops at its limit,
        # whatever the backlog; finished jobs (nearly all) are not in it.
        Index(
            "ix_jobs_pending_lane_id",
            "lane",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        # The retention purge reads finished jobs by age; queuing a job never writes to it.
        Index(
            "ix_jobs_done_finished_at",
            "finished_at",
            postgresql_where=text("state = 'done'"),
            sqlite_where=text("state = 'done'"),
        ),
        # Only the few jobs queued under a key: the many without one cost it nothing.
        Index(
            "ix_jobs_collapse_key",
            "collapse_key",
            postgresql_where=text("collapse_key IS NOT NULL"),
            sqlite_where=text("collapse_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Random and stable across retries: the key that finds the job's Slack post again (or,
    # for a job queued once per webhook event, derived from that event).
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    # None for news about the whole account, which belongs to no conversation.
    # No foreign key: queued in bulk on hot paths, and conversations are never deleted
    # (migration 0010).
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    lane: Mapped[str] = mapped_column(String(16))
    job_type: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]]
    blocking: Mapped[bool] = mapped_column(Boolean)
    # When the job's cause happened, in microseconds since the epoch: the order within a lane.
    seq: Mapped[int] = mapped_column(BigInteger)
    # For causes of the same moment (Meta stamps whole seconds): the order they reached us.
    arrival: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # a JobState
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime]
    lease_token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None]
    # An outside call started under some lease and no outcome was recorded after it.
    call_started: Mapped[bool] = mapped_column(Boolean, default=False)
    failing_since: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # Jobs that show what is current when they run (a message's delivery) share this key:
    # one waiting is enough, so a backlog of changes collapses into one Slack call.
    collapse_key: Mapped[str | None] = mapped_column(String(64))


class LanePauseEntry(Base):
    """An adapter's work paused on an auth error, until a probe call succeeds."""

    __tablename__ = "lane_pauses"

    lane: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    probe_after: Mapped[datetime]


class RateHoldEntry(Base):
    """A rate limit the other side reported (Slack's ``Retry-After``, Meta's throughput
    error): calls of ``scope`` wait until ``until``, in every process."""

    __tablename__ = "rate_holds"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime]


class TemplateEntry(Base):
    """A message template of a WhatsApp Business Account, as last synced or updated."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("waba_id", "name", "language"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    waba_id: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    quality: Mapped[str | None] = mapped_column(String(16))
    # The whole template (placeholders, examples, header kind...) as bridge.codec writes it.
    definition: Mapped[dict[str, Any]]
    synced_at: Mapped[datetime]


class WindowMark(Base):
    """A warning mark (or the close, mark 0) reached by one window: unique, so the warning is
    posted once whatever the number of scheduler processes, and a renewed window (a new end)
    is armed afresh."""

    __tablename__ = "window_marks"
    # The window scan reads one mark's range of window ends, in the order of the
    # conversations' index, to leave out the windows that reached it already; the retention
    # purge reads the marks of windows long closed. Both from the index alone.
    __table_args__ = (
        Index(
            "ix_window_marks_window_expires_at_mark_seconds",
            "window_expires_at",
            "mark_seconds",
            "conversation_id",
        ),
    )

    # No foreign key, as on jobs (migration 0010).
    conversation_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    window_expires_at: Mapped[datetime] = mapped_column(primary_key=True)
    mark_seconds: Mapped[int] = mapped_column(primary_key=True)
    reached_at: Mapped[datetime]


class ScheduledRun(Base):
    """One run of a scheduled job in one time slot, claimed by the process that runs it."""

    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claimed_at: Mapped[datetime]


class Counter(Base):
    """A running total for ``/metrics`` (statuses for unknown messages...), kept here so that
    every process counts into, and reports, the same number."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class SlackEvent(Base):
    """Slack event ids already handled, so a redelivery sends nothing twice."""

    __tablename__ = "slack_events"
    # The retention purge reads event ids by age.
    __table_args__ = (Index("ix_slack_events_received_at", "received_at"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]
