"""Notices: what the bridge tells agents in a thread. The core says what happened; the chat
surface (``slack_app.messages``) words it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bridge.domain.failures import DeliveryProblem, NextStep

__all__ = ["Notice", "NoticeKind"]


class NoticeKind(enum.StrEnum):
    #: The agent replied outside the 24-hour window: nothing was sent.
    WINDOW_CLOSED = "window_closed"
    #: WhatsApp refused or failed a reply (at once, or later through a status).
    DELIVERY_FAILED = "delivery_failed"
    #: WhatsApp asked us to slow down; the reply waits and is retried.
    SEND_DELAYED = "send_delayed"
    #: A long reply went out in several parts.
    REPLY_SPLIT = "reply_split"
    #: Nothing could be sent: the reply was empty once Slack's formatting was removed.
    REPLY_EMPTY = "reply_empty"
    #: A customer message could not be posted in the thread.
    CUSTOMER_MESSAGE_MISSING = "customer_message_missing"
    #: The window closes soon (a ``WABRIDGE_WARN_BEFORE`` mark was reached).
    WINDOW_WARNING = "window_warning"
    #: The agent edited a reply already sent: WhatsApp cannot change it.
    EDIT_NOT_DELIVERED = "edit_not_delivered"
    #: The agent deleted a reply already sent: the customer still has it.
    DELETE_NOT_DELIVERED = "delete_not_delivered"
    #: The agent edited a reply still queued: the new text goes out instead.
    EDIT_APPLIED = "edit_applied"
    #: The agent deleted a reply still queued: it will not go out.
    REPLY_CANCELLED = "reply_cancelled"
    #: A customer's file could not be brought into the thread.
    FILE_NOT_RELAYED = "file_not_relayed"
    #: An agent's file was not sent: too large for WhatsApp (``error_details`` says which limit).
    FILE_NOT_SENT = "file_not_sent"
    #: An agent's reaction could not reach the customer.
    REACTION_NOT_SENT = "reaction_not_sent"


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A bridge notice in a conversation's thread."""

    kind: NoticeKind
    window_expires_at: datetime | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None
    problem: DeliveryProblem | None = None
    #: The agent's Slack message the notice is about.
    reply_ts: str | None = None
    parts: int | None = None
    #: The failed job an operator can replay (``wabridge deadletters replay``).
    job_ref: str | None = None
    #: Templates to suggest, best first, as ``name:language``.
    suggestions: tuple[str, ...] = ()
    #: What the agent is offered to do about a failed delivery (a button).
    next_step: NextStep | None = None
    #: The message the notice is about, when a next step acts on it.
    message_id: int | None = None
