"""The domain: conversations, messages, statuses and the customer-service window.

Pure values and rules, no I/O. Every rule that depends on time takes ``now``.
Webhook events arrive here already typed (the WhatsApp adapter parses raw JSON
into these dataclasses), so the core never sees Meta's wire format.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "WINDOW",
    "Direction",
    "InboundMessage",
    "MessageStatus",
    "SenderType",
    "StatusUpdate",
    "UnknownEvent",
    "WebhookEvent",
    "advance_status",
    "reached_stages",
    "window_expires_at",
    "window_is_open",
]

#: Meta's customer-service window: free-form messages are allowed for this long
#: after the customer's latest message, by that message's own timestamp.
WINDOW = timedelta(hours=24)


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SenderType(enum.StrEnum):
    CONTACT = "contact"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class MessageStatus(enum.StrEnum):
    """Where a message stands. Outbound ones only move forward: see ``advance_status``."""

    RECEIVED = "received"
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    DELETED = "deleted"


# The delivery order. FAILED and DELETED are final and sit outside the ladder.
_LADDER: dict[MessageStatus, int] = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}
_FINAL = frozenset({MessageStatus.FAILED, MessageStatus.DELETED})


def advance_status(current: MessageStatus, new: MessageStatus) -> MessageStatus | None:
    """The status after ``new`` arrives on a message at ``current``, or None if nothing changes.

    Statuses never go backwards: a late ``delivered`` after ``read`` changes nothing,
    and ``failed`` is final. A failure can still arrive after ``sent`` or ``delivered``
    (Meta reports some failures late), but not after ``read``.
    """
    if current == new or current in _FINAL:
        return None
    if new == MessageStatus.FAILED:
        return None if current == MessageStatus.READ else new
    if new == MessageStatus.DELETED:
        return new
    if new not in _LADDER or current not in _LADDER:
        return None
    return new if _LADDER[new] > _LADDER[current] else None


def reached_stages(status: MessageStatus) -> tuple[MessageStatus, ...]:
    """The delivery stages a message at ``status`` has gone through, in order (for display)."""
    if status == MessageStatus.FAILED:
        return (MessageStatus.FAILED,)
    rank = _LADDER.get(status, 0)
    return tuple(s for s, r in _LADDER.items() if 0 < r <= rank)


def window_expires_at(last_customer_message_at: datetime | None) -> datetime | None:
    """When the window opened by the customer's latest message closes (None: never opened)."""
    if last_customer_message_at is None:
        return None
    return last_customer_message_at + WINDOW


def window_is_open(expires_at: datetime | None, *, now: datetime) -> bool:
    """Whether a free-form message may be sent at ``now``."""
    return expires_at is not None and now < expires_at


# --- webhook events, as the WhatsApp adapter hands them to the core -----------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """A message from a customer. ``content`` keeps the type's payload as Meta sent it."""

    wamid: str
    phone_number_id: str
    display_phone_number: str
    contact_id: str  # wa_id, or the business-scoped user_id when Meta sends no wa_id
    contact_name: str | None
    timestamp: datetime
    message_type: str
    text: str | None = None
    content: dict[str, Any] = field(default_factory=dict)
    context_wamid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    """A delivery status for a message the business sent."""

    wamid: str
    phone_number_id: str
    status: MessageStatus | None  # None: a status Meta added later that we do not know
    raw_status: str
    timestamp: datetime
    recipient_id: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    """Anything in a webhook the core does not handle yet; kept, logged, never a crash."""

    kind: str
    raw: dict[str, Any]


WebhookEvent = InboundMessage | StatusUpdate | UnknownEvent
