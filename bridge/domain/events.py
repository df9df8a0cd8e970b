"""Webhook events, as the WhatsApp adapter hands them to the core (never Meta's wire format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.domain.account import OperatorNotice
from bridge.domain.failures import DeliveryProblem
from bridge.domain.message import MessageStatus

__all__ = [
    "AccountEvent",
    "InboundMessage",
    "StatusUpdate",
    "TemplateUpdate",
    "UnknownEvent",
    "WebhookEvent",
]


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
    problem: DeliveryProblem | None = None
    #: How Meta prices the message ("service", "marketing", "utility"...), when it says.
    pricing_category: str | None = None
    billable: bool | None = None
    pricing_model: str | None = None

    @property
    def has_pricing(self) -> bool:
        return (self.pricing_category, self.billable, self.pricing_model) != (None, None, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateUpdate:
    """Meta changed a template: its status (approved, paused, disabled...), its quality, its
    category, or its wording (header, body, footer, buttons). Fields it did not change are
    None."""

    waba_id: str
    template_id: str | None
    name: str
    language: str
    status: str | None = None
    quality: str | None = None
    category: str | None = None
    reason: str | None = None
    header_text: str | None = None
    body_text: str | None = None
    footer_text: str | None = None
    #: The buttons' labels, in order.
    buttons: tuple[str, ...] | None = None

    @property
    def changes_wording(self) -> bool:
        parts = (self.header_text, self.body_text, self.footer_text, self.buttons)
        return any(part is not None for part in parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountEvent:
    """Meta reports news about the business account or one of its numbers (quality, messaging
    limit, restriction, violation, ban...)."""

    #: The same for every delivery of one event (Meta retries), different between events.
    event_id: str
    #: Meta's own name for it ("ACCOUNT_VIOLATION", "FLAGGED"), for the log.
    name: str
    #: What operators are told (nothing, when its kind is OTHER).
    notice: OperatorNotice


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    """Anything in a webhook the core does not handle yet; kept, logged, never a crash."""

    kind: str
    raw: dict[str, Any]


WebhookEvent = InboundMessage | StatusUpdate | TemplateUpdate | AccountEvent | UnknownEvent
