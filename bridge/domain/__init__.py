"""The domain: conversations, messages, statuses, the customer-service window, failures.

Pure values and rules, no I/O. Every rule that depends on time takes ``now``.
"""

from bridge.domain.events import (
    InboundMessage,
    StatusUpdate,
    TemplateUpdate,
    UnknownEvent,
    WebhookEvent,
)
from bridge.domain.failures import DeliveryProblem, FailureKind
from bridge.domain.message import (
    Direction,
    MessageStatus,
    SenderType,
    advance_status,
    least_advanced,
    reached_stages,
)
from bridge.domain.notices import Notice, NoticeKind
from bridge.domain.templates import MessageTemplate, Part, Placeholder, ValueProblem
from bridge.domain.window import (
    REFUSED_WINDOW_CLOSED,
    WINDOW,
    window_expires_at,
    window_is_open,
)

__all__ = [
    "REFUSED_WINDOW_CLOSED",
    "WINDOW",
    "DeliveryProblem",
    "Direction",
    "FailureKind",
    "InboundMessage",
    "MessageStatus",
    "MessageTemplate",
    "Notice",
    "NoticeKind",
    "Part",
    "Placeholder",
    "SenderType",
    "StatusUpdate",
    "TemplateUpdate",
    "UnknownEvent",
    "ValueProblem",
    "WebhookEvent",
    "advance_status",
    "least_advanced",
    "reached_stages",
    "window_expires_at",
    "window_is_open",
]
