"""The Protocols through which the core reaches the outside world.

The adapters (``whatsapp``, ``slack_app``, ``storage``) satisfy them structurally;
tests satisfy them with small fakes. Nothing here knows HTTP, Slack or SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bridge.domain import Direction, MessageStatus, SenderType, WebhookEvent

__all__ = [
    "ChatSurface",
    "Clock",
    "ContactView",
    "ConversationRecord",
    "ConversationRepository",
    "CustomerMessageView",
    "InboxRepository",
    "InboxRow",
    "MessageRecord",
    "MessageRepository",
    "NewMessage",
    "Notice",
    "OutboxItem",
    "OutboxRepository",
    "SlackEventRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "WebhookParser",
    "WhatsApp",
]


# --- records the storage hands back ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRecord:
    id: int
    phone_number_id: str
    display_phone_number: str
    contact_id: str
    contact_name: str | None
    slack_channel: str
    slack_thread_ts: str | None
    window_expires_at: datetime | None
    last_message_at: datetime | None
    total_messages: int


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


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    id: int
    conversation_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


# --- what the chat surface (Slack) is asked to show ---------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactView:
    contact_id: str
    name: str | None
    business_number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessageView:
    message_type: str
    text: str | None
    content: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A bridge notice in a thread. ``kind`` says what happened; the surface words it."""

    kind: str  # "window_closed" | "delivery_failed" | "send_error"
    window_expires_at: datetime | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None
    reply_ts: str | None = None  # the agent's message the notice is about


class ChatSurface(Protocol):
    """Slack, as the core needs it. ``key`` makes a post findable again after a crash:
    with ``recheck`` the surface first looks for an earlier post with that key."""

    async def open_thread(
        self, *, channel: str, contact: ContactView, key: str, recheck: bool
    ) -> str: ...

    async def post_customer_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: CustomerMessageView,
        key: str,
        recheck: bool,
    ) -> str: ...

    async def post_notice(
        self, *, channel: str, thread_ts: str, notice: Notice, key: str, recheck: bool
    ) -> str: ...

    async def show_delivery(
        self, *, channel: str, ts: str, stages: Sequence[MessageStatus]
    ) -> None: ...


class WhatsApp(Protocol):
    """The Meta Cloud API. Failures raise ``bridge.errors.DeliveryError``."""

    async def send_text(
        self, *, phone_number_id: str, to: str, text: str, reply_to: str | None = None
    ) -> str: ...

    async def send_template(
        self,
        *,
        phone_number_id: str,
        to: str,
        name: str,
        language: str,
        components: Sequence[dict[str, Any]] = (),
    ) -> str: ...

    async def mark_read(self, *, phone_number_id: str, wamid: str) -> None: ...


class WebhookParser(Protocol):
    def parse(self, body: bytes) -> list[WebhookEvent]:
        """Every event of a webhook body, in order; raises ``WebhookParseError``."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


# --- storage -------------------------------------------------------------------------------


class ConversationRepository(Protocol):
    async def get_or_create(
        self,
        *,
        phone_number_id: str,
        display_phone_number: str,
        contact_id: str,
        contact_name: str | None,
        slack_channel: str,
        now: datetime,
    ) -> ConversationRecord: ...

    async def get(self, conversation_id: int) -> ConversationRecord | None: ...

    async def by_thread(self, *, channel: str, thread_ts: str) -> ConversationRecord | None: ...

    async def set_thread(self, conversation_id: int, thread_ts: str) -> None: ...

    async def record_message(
        self,
        conversation_id: int,
        *,
        at: datetime,
        from_contact: bool,
        window_expires_at: datetime | None,
    ) -> None: ...

    async def list_recent(self, *, limit: int, offset: int) -> list[ConversationRecord]: ...


class MessageRepository(Protocol):
    async def add(self, message: NewMessage) -> MessageRecord | None:
        """Insert; None when a message with that wamid or idempotency key exists."""
        ...

    async def get(self, message_id: int) -> MessageRecord | None: ...

    async def by_wamid(self, wamid: str) -> MessageRecord | None: ...

    async def latest_inbound(self, conversation_id: int) -> MessageRecord | None: ...

    async def update(self, message_id: int, **fields: Any) -> None: ...

    async def for_conversation(self, conversation_id: int) -> list[MessageRecord]: ...


class InboxRepository(Protocol):
    async def store(
        self, body: bytes, *, received_at: datetime, dead_reason: str | None
    ) -> int: ...

    async def claim(self, *, now: datetime, limit: int) -> list[InboxRow]: ...

    async def done(self, row_id: int) -> None: ...

    async def retry(self, row_id: int, *, error: str, not_before: datetime) -> None: ...

    async def dead(self, row_id: int, *, error: str) -> None: ...

    async def depth(self) -> int: ...


class OutboxRepository(Protocol):
    async def enqueue(
        self,
        *,
        conversation_id: int,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        lane: str = "slack",
        not_before: datetime | None = None,
    ) -> None: ...

    async def claim(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        """Due items, oldest first, at most one per conversation and lane (order is kept)."""
        ...

    async def done(self, item_id: int) -> None: ...

    async def retry(self, item_id: int, *, error: str, not_before: datetime) -> None: ...

    async def depth(self) -> int: ...


class SlackEventRepository(Protocol):
    async def remember(self, event_id: str, *, now: datetime) -> bool:
        """True the first time an event id is seen, False for a redelivery."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls back."""

    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def inbox(self) -> InboxRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def slack_events(self) -> SlackEventRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
