"""The domain: conversations, messages, statuses, the customer-service window, failures.

Pure values and rules, no I/O. Every rule that depends on time takes ``now``.
"""

from bridge.domain.account import AccountEventKind, OperatorNotice, Restriction
from bridge.domain.events import (
    AccountEvent,
    InboundMessage,
    StatusUpdate,
    TemplateUpdate,
    UnknownEvent,
    WebhookEvent,
)
from bridge.domain.failures import DeliveryProblem, FailureKind, NextStep, next_step_after
from bridge.domain.message import (
    Direction,
    MessageStatus,
    SenderType,
    advance_status,
    is_delivery_stage,
    least_advanced,
    reached_stages,
)
from bridge.domain.notices import Notice, NoticeKind
from bridge.domain.templates import MessageTemplate, Part, Placeholder, ValueProblem
from bridge.domain.window import (
    REFUSED_WINDOW_CLOSED,
    WINDOW,
    parent_shows_change,
    window_expires_at,
    window_is_open,
)

__all__ = [
    "REFUSED_WINDOW_CLOSED",
    "WINDOW",
    "AccountEvent",
    "AccountEventKind",
    "DeliveryProblem",
    "Direction",
    "FailureKind",
    "InboundMessage",
    "MessageStatus",
    "MessageTemplate",
    "NextStep",
    "Notice",
    "NoticeKind",
    "OperatorNotice",
    "Part",
    "Placeholder",
    "Restriction",
    "SenderType",
    "StatusUpdate",
    "TemplateUpdate",
    "UnknownEvent",
    "ValueProblem",
    "WebhookEvent",
    "advance_status",
    "is_delivery_stage",
    "least_advanced",
    "next_step_after",
    "parent_shows_change",
    "reached_stages",
    "window_expires_at",
    "window_is_open",
]
