"""The REST API's bodies, as pydantic models: what ``/api/v1/openapi.json`` describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from bridge.domain import Direction, MessageStatus, SenderType
from bridge.ports import ConversationRecord, MessageRecord
from bridge.usecases.api import ConversationMetrics

__all__ = [
    "ContactResponse",
    "ConversationDetail",
    "ConversationResponse",
    "ErrorResponse",
    "FieldError",
    "FieldErrors",
    "MessageResponse",
    "PausedLane",
    "Readiness",
    "Refusal",
    "RefusalResponse",
    "SendMessageRequest",
    "WebhookAnswer",
]


class ContactResponse(BaseModel):
    wa_id: str = Field(description="The contact's WhatsApp id (or business-scoped user id).")
    name: str | None = Field(description="The contact's WhatsApp profile name.")


class ConversationResponse(BaseModel):
    id: int
    contact: ContactResponse
    slack_channel: str
    slack_thread_ts: str | None = Field(description="The thread's parent post; null until opened.")
    window_expires_at: datetime | None = Field(
        description="When the 24-hour customer-service window closes; null if never opened."
    )
    last_message_at: datetime | None
    total_messages: int

    @classmethod
    def of(cls, c: ConversationRecord) -> Self:
        return cls(
            id=c.id,
            contact=ContactResponse(wa_id=c.contact_id, name=c.contact_name),
            slack_channel=c.slack_channel,
            slack_thread_ts=c.slack_thread_ts,
            window_expires_at=c.window_expires_at,
            last_message_at=c.last_message_at,
            total_messages=c.total_messages,
        )


class ConversationDetail(ConversationResponse):
    messages_from_contact: int = Field(description="Messages the contact sent.")
    messages_from_agents: int = Field(
        description="Outbound messages that reached WhatsApp: agents' replies, templates and "
        "messages sent through this API."
    )
    first_response_seconds: float | None = Field(
        description="From the contact's first message to the first outbound message sent "
        "after it; null if none was."
    )
    last_customer_message_at: datetime | None
    window_open: bool = Field(description="Whether a free-form message may be sent now.")

    @classmethod
    def of_metrics(cls, m: ConversationMetrics) -> Self:
        base = ConversationResponse.of(m.conversation).model_dump()
        return cls(
            **base,
            messages_from_contact=m.messages_from_contact,
            messages_from_agents=m.messages_from_agents,
            first_response_seconds=m.first_response_seconds,
            last_customer_message_at=m.last_customer_message_at,
            window_open=m.window_open,
        )


class MessageResponse(BaseModel):
    id: int
    conversation_id: int
    direction: Direction
    sender_type: SenderType = Field(
        description="contact: the customer; agent: a person in Slack; bot: sent through this "
        "API; system: the bridge itself."
    )
    message_type: str
    content: dict[str, Any]
    status: MessageStatus = Field(
        description="Where the message stands; a played voice note reads as `read`."
    )
    whatsapp_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error_code: int | None
    error_message: str | None
    pricing_category: str | None = Field(
        description="Meta's pricing category for an outbound message (service, utility, "
        "marketing, authentication...), once a status reported it."
    )

    @classmethod
    def of(cls, m: MessageRecord) -> Self:
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            direction=m.direction,
            sender_type=m.sender_type,
            message_type=m.message_type,
            content=m.content,
            status=MessageStatus.READ if m.status == MessageStatus.PLAYED else m.status,
            whatsapp_message_id=m.wamid,
            created_at=m.created_at,
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            read_at=m.read_at,
            failed_at=m.failed_at,
            error_code=m.error_code,
            error_message=m.error_message or m.error_title,
            pricing_category=m.pricing_category,
        )


_CONTENT_FORMS = (
    'By type: text {"text", "preview_url"?}; image, video, audio, sticker '
    '{"url"|"media_id", "caption"?}; document {"url"|"media_id", "filename"?, "caption"?}; '
    'location {"latitude", "longitude", "name"?, "address"?}; template {"name", "language", '
    '"components"?} with components in the Graph API\'s form, or {"name", "language", '
    '"params": ["v1", "v2"]} for the body\'s values in order.'
)


class SendMessageRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message_type": "text", "content": {"text": "Your order has shipped."}},
                {
                    "message_type": "template",
                    "content": {"name": "order_update", "language": "en", "params": ["Ada"]},
                },
            ]
        },
    )

    message_type: str = Field(
        min_length=1,
        max_length=32,
        description="text, image, document, audio, video, sticker, location, template, ...",
    )
    content: dict[str, Any] = Field(description=_CONTENT_FORMS)


class ErrorResponse(BaseModel):
    detail: str


class Refusal(BaseModel):
    model_config = ConfigDict(extra="allow")

    reason: str = Field(
        description="window_expired, idempotency_key_reused, unknown_template, "
        "template_not_usable, ..."
    )
    message: str


class RefusalResponse(BaseModel):
    detail: Refusal


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description='Where, as ["body", "content", "text"].')
    msg: str
    type: str


class FieldErrors(BaseModel):
    detail: list[FieldError]


class PausedLane(BaseModel):
    lane: str
    reason: str
    since: datetime


class Readiness(BaseModel):
    status: str = Field(
        description="ready, degraded (work paused, webhooks still stored), not ready"
    )
    reason: str | None = None
    paused: list[PausedLane] | None = None


class WebhookAnswer(BaseModel):
    ok: bool | None = None
    error: str | None = None
