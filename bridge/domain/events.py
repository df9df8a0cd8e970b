"""Webhook events, as the WhatsApp adapter hands them to the core (never Meta's wire format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.domain.failures import DeliveryProblem
from bridge.domain.message import MessageStatus

__all__ = ["InboundMessage", "StatusUpdate", "TemplateUpdate", "UnknownEvent", "WebhookEvent"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateUpdate:
    """Meta changed a template: its status (approved, paused, disabled...), its quality or
    its category. Fields it did not change are None."""

    waba_id: str
    template_id: str | None
    name: str
    language: str
    status: str | None = None
    quality: str | None = None
    category: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    """Anything in a webhook the core does not handle yet; kept, logged, never a crash."""

    kind: str
    raw: dict[str, Any]


WebhookEvent = InboundMessage | StatusUpdate | TemplateUpdate | UnknownEvent
