"""The records the storage hands back to the core: plain frozen values, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.domain import Direction, MessageStatus, SenderType
from bridge.jobs import Job, Lane

__all__ = [
    "ClaimedJob",
    "ContactTally",
    "ConversationKey",
    "ConversationRecord",
    "DeadWebhook",
    "DueMark",
    "FailedJob",
    "FailureCount",
    "InboxRow",
    "JobCounts",
    "LanePause",
    "LaneQueue",
    "MessageRecord",
    "MessageStats",
    "NewMessage",
    "QueuedJob",
    "RateHold",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessNumber:
    """A WhatsApp business number the bridge serves: the environment's (the default) or one
    added with ``wabridge numbers add``. Without credentials of its own it uses the
    environment's."""

    phone_number_id: str
    #: Digits only; None when not known yet (the default number before its first message).
    display_phone_number: str | None
    waba_id: str | None
    slack_channel: str
    access_token: str | None = field(default=None, repr=False)
    app_secret: str | None = field(default=None, repr=False)
    default: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRecord:
    id: int
    #: Random, unique across installations: the key that finds the thread's parent post again.
    uid: str
    phone_number_id: str
    display_phone_number: str
    contact_id: str
    contact_name: str | None
    slack_channel: str
    slack_thread_ts: str | None
    window_expires_at: datetime | None
    last_message_at: datetime | None
    total_messages: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenConversation:
    """An open conversation a customer message belongs to, whether the parent's update
    waits already (queued, not started), and where its window ends."""

    id: int
    update_waiting: bool
    window_expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DueMark:
    """A window that reached a mark (``mark_seconds`` before it ends; 0: its close), and its
    contact (wa_id or user id) when asked for."""

    conversation_id: int
    window_expires_at: datetime
    mark_seconds: int
    contact_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationKey:
    """Where a conversation sits in the newest-first order: a page of conversations resumes
    after one (keyset pagination: pages stay put while conversations are added)."""

    last_message_at: datetime | None
    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageStats:
    """What a conversation's messages add up to."""

    from_contact: int
    #: Outbound messages that reached WhatsApp (agents' replies, templates, API sends).
    from_business: int
    first_contact_message_at: datetime | None
    last_contact_message_at: datetime | None
    #: When the first outbound message after the customer's first one went out.
    first_response_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    id: int
    conversation_id: int
    direction: Direction
    sender_type: SenderType
    slack_user: str | None
    message_type: str
    content: dict[str, Any]
    status: MessageStatus
    wamid: str | None
    slack_ts: str | None
    idempotency_key: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error_code: int | None
    error_title: str | None
    error_message: str | None
    shown_stages: tuple[str, ...]
    #: When the customer played it (a voice note).
    played_at: datetime | None = None
    #: How Meta prices it, as its statuses said ("service", "marketing"...).
    pricing_category: str | None = None
    billable: bool | None = None
    pricing_model: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactTally:
    """New customer messages of one conversation, counted at once: how many, the latest's
    time, and the window that time opens."""

    count: int
    latest: datetime
    window_expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedJob:
    """A job to queue with others at once: ``seq`` and ``arrival`` as ``enqueue`` takes them."""

    job: Job
    seq: datetime
    arrival: int = 0
    #: As ``enqueue_collapsed``'s key (the caller has checked that none waits).
    collapse_key: str | None = None
    #: Not due before this (None: due now).
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    conversation_id: int
    direction: Direction
    sender_type: SenderType
    message_type: str
    content: dict[str, Any]
    status: MessageStatus
    created_at: datetime
    wamid: str | None = None
    slack_user: str | None = None
    slack_ts: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxRow:
    id: int
    body: bytes
    attempts: int
    #: When the webhook was stored (before Meta's 200): where relay latency starts.
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewWebhook:
    """A signed webhook body, stored as it came (the inbox worker parses it)."""

    body: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedJob:
    """A job a worker holds under a lease; ``lease_token`` fences every outcome it records."""

    id: int
    uid: str
    #: None for news about the whole account (``PostOperatorNotice``).
    conversation_id: int | None
    lane: Lane
    job_type: str
    payload: dict[str, Any]
    #: This try's number (1 on the first).
    attempt: int
    queued_at: datetime
    failing_since: datetime | None
    call_started: bool
    lease_token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCounts:
    """Where queued work stands: what ``/metrics`` shows and what "idle" means."""

    pending: int
    due: int
    running: int
    waiting: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneQueue:
    """One lane's pending jobs, and when the longest-waiting of those due now became due."""

    lane: Lane
    pending: int
    oldest_due: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureCount:
    kind: str  # a job type, or "webhook"
    reason: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedJob:
    id: int
    conversation_id: int | None
    lane: Lane
    job_type: str
    payload: dict[str, Any]
    attempts: int
    queued_at: datetime
    failed_at: datetime | None
    reason: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadWebhook:
    id: int
    received_at: datetime
    attempts: int
    reason: str
    error: str
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class LanePause:
    """An adapter's work, paused until its credentials work again."""

    lane: Lane
    reason: str
    since: datetime
    probe_after: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RateHold:
    """A rate limit the other side reported (a Slack ``429``, Meta's throughput error): no
    process makes calls of ``scope`` before ``until``."""

    scope: str
    until: datetime
    reason: str
