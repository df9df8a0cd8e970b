"""The REST API: pages of conversations and of a conversation's messages, one conversation
with its metrics, and a message sent by an integration.

A send is stored ``pending`` and queued the way an agent's template is: ``PostAgentMessage``
shows it in the conversation's thread, marked as sent through the API, and ``SendReply``
sends it. Its sender is ``bot``: an integration, not a person in Slack.

An ``Idempotency-Key`` makes a send happen once. The message is stored under the key, and
the key is unique in the database, so a retry, or a second request racing the first, finds
the first message instead of adding another; the same key with another request is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from bridge.codec import to_json
from bridge.domain import (
    Direction,
    MessageStatus,
    MessageTemplate,
    Part,
    Placeholder,
    SenderType,
    ValueProblem,
    window_is_open,
)
from bridge.errors import ConversationNotFoundError, InvalidContentError, RefusedError
from bridge.jobs import PostAgentMessage, SendReply
from bridge.ports import (
    Clock,
    ConversationKey,
    ConversationRecord,
    MessageRecord,
    NewMessage,
    OutboundContent,
    UnitOfWorkFactory,
)
from bridge.usecases.templates import LookupOutcome, Templates

__all__ = [
    "MAX_IDEMPOTENCY_KEY",
    "ConversationMetrics",
    "Page",
    "RestApi",
    "SentMessage",
]

log = logging.getLogger(__name__)

#: Keys of API sends are stored with this prefix: they never meet the keys of Slack replies.
KEY_PREFIX: Final = "api:"
#: The longest ``Idempotency-Key`` taken (the stored key, prefix included, fits 128).
MAX_IDEMPOTENCY_KEY: Final = 120
#: What a stored template message adds to the content it was sent with: what ``SendReply``
#: sends and what the thread shows. (A template's content cannot hold these keys itself: the
#: content check refuses keys that are not part of its form.)
_TEMPLATE_ADDED: Final = ("template", "values", "text")
#: What the bridge adds to a sent message's content later (the customer's reaction to it).
_ADDED_LATER: Final = ("customer_reaction",)
#: What a message is stored with by the request that sends it; the rest comes later.
_AS_STORED: Final = frozenset(
    {
        "id",
        "conversation_id",
        "direction",
        "sender_type",
        "slack_user",
        "message_type",
        "content",
        "idempotency_key",
        "created_at",
    }
)
#: A later field's value before anything happened, where it is not None.
_NOT_YET: Final[Mapping[str, object]] = {"status": MessageStatus.PENDING, "shown_stages": ()}

_PROBLEM_WORDS: Final = {
    ValueProblem.MISSING: "is empty",
    ValueProblem.NOT_HTTPS: "must be an https:// link",
    ValueProblem.TOO_LONG: "is too long",
}

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T, K]):
    items: list[T]
    #: Where the next page starts; None on the last page.
    next: K | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationMetrics:
    conversation: ConversationRecord
    messages_from_contact: int
    #: Outbound messages that reached WhatsApp: agents' replies, templates and API sends.
    messages_from_agents: int
    #: From the customer's first message to the first outbound message sent after it.
    first_response_seconds: float | None
    last_customer_message_at: datetime | None
    window_expires_at: datetime | None
    window_open: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SentMessage:
    message: MessageRecord
    #: False when an ``Idempotency-Key`` found the message an earlier request stored.
    created: bool


class RestApi:
    """What the REST API reads and sends."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        content: OutboundContent,
        templates: Templates | None,
        on_queued: Callable[[float], None] = lambda due_in: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._content = content
        self._templates = templates
        self._on_queued = on_queued

    async def conversations(
        self, *, limit: int, after: ConversationKey | None = None, offset: int = 0
    ) -> Page[ConversationRecord, ConversationKey]:
        """Newest first; ``after`` is where the previous page ended."""
        async with self._uow() as uow:
            rows = await uow.conversations.list_recent(limit=limit + 1, offset=offset, after=after)
        items = rows[:limit]
        last = items[-1] if len(rows) > limit else None
        key = (
            None
            if last is None
            else ConversationKey(last_message_at=last.last_message_at, id=last.id)
        )
        return Page(items=items, next=key)

    async def messages(
        self, conversation_id: int, *, limit: int, after: int | None = None
    ) -> Page[MessageRecord, int]:
        """A conversation's messages, oldest first; ``after`` is the previous page's last id."""
        async with self._uow() as uow:
            if await uow.conversations.get(conversation_id) is None:
                raise ConversationNotFoundError("conversation not found")
            rows = await uow.messages.for_conversation(
                conversation_id, after_id=after, limit=limit + 1
            )
        items = rows[:limit]
        return Page(items=items, next=items[-1].id if len(rows) > limit else None)

    async def conversation(self, conversation_id: int) -> ConversationMetrics:
        async with self._uow() as uow:
            conversation = await uow.conversations.get(conversation_id)
            if conversation is None:
                raise ConversationNotFoundError("conversation not found")
            stats = await uow.messages.stats(conversation_id)
        first_in, first_out = stats.first_contact_message_at, stats.first_response_at
        return ConversationMetrics(
            conversation=conversation,
            messages_from_contact=stats.from_contact,
            messages_from_agents=stats.from_business,
            first_response_seconds=(
                (first_out - first_in).total_seconds()
                if first_in is not None and first_out is not None
                else None
            ),
            last_customer_message_at=stats.last_contact_message_at,
            window_expires_at=conversation.window_expires_at,
            window_open=window_is_open(conversation.window_expires_at, now=self._clock.now()),
        )

    async def send(
        self,
        *,
        conversation_id: int,
        message_type: str,
        content: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> SentMessage:
        """Store the message ``pending`` and queue its post in the thread and its send.

        Raises ``ConversationNotFoundError``, ``InvalidContentError`` (what WhatsApp would
        refuse, before anything is stored), and ``RefusedError`` (``window_expired`` for a
        free-form message outside the 24-hour window; ``idempotency_key_reused`` for a key
        that came with another request; ``unknown_template``, ``template_not_usable``).
        """
        request = (conversation_id, message_type, dict(content))
        key = None if idempotency_key is None else KEY_PREFIX + idempotency_key
        async with self._uow() as uow:
            conversation = await uow.conversations.get(conversation_id)
            if conversation is None:
                raise ConversationNotFoundError("conversation not found")
            first = await uow.messages.by_idempotency_key(key) if key is not None else None
        if first is not None:  # a retry: the first answer, whatever the window says now
            return SentMessage(message=_same_request(first, request), created=False)

        self._content.check(to=conversation.contact_id, message_type=message_type, content=content)
        stored = dict(content)
        if message_type == "template":
            stored.update(await self._template(content, conversation.phone_number_id))
        elif not window_is_open(conversation.window_expires_at, now=self._clock.now()):
            raise RefusedError(
                "the 24-hour window is closed: only a template can be sent until the "
                "customer writes again",
                reason="window_expired",
                details={"window_expires_at": conversation.window_expires_at},
            )

        now = self._clock.now()
        async with self._uow() as uow:
            message = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.BOT,
                    message_type=message_type,
                    content=stored,
                    status=MessageStatus.PENDING,
                    created_at=now,
                    idempotency_key=key,
                )
            )
            if message is None:
                # Another request with this key stored its message first (the unique key
                # decided, even across processes): answer with that one, send nothing more.
                assert key is not None  # without a key there is nothing to collide with
                first = await uow.messages.by_idempotency_key(key)
                assert first is not None
                return SentMessage(message=_same_request(first, request), created=False)
            await uow.jobs.enqueue(
                PostAgentMessage(conversation_id=conversation_id, message_id=message.id), now=now
            )
            await uow.jobs.enqueue(
                SendReply(conversation_id=conversation_id, message_id=message.id), now=now
            )
            await uow.commit()
        self._on_queued(0)
        log.info(
            "api message queued",
            extra={
                "conversation_id": conversation_id,
                "message_id": message.id,
                "message_type": message_type,
            },
        )
        return SentMessage(message=message, created=True)

    async def _template(self, content: Mapping[str, Any], phone_number_id: str) -> dict[str, Any]:
        """The approved template the content names, among those of the account of the
        conversation's number, and its values: what ``SendReply`` sends and what the thread
        shows."""
        name, language = str(content["name"]), str(content["language"])
        lookup = None
        if self._templates is not None:
            waba_id = await self._templates.account(phone_number_id=phone_number_id)
            lookup = await self._templates.find(name, language, waba_id=waba_id)
        if lookup is not None and lookup.outcome == LookupOutcome.NOT_USABLE:
            raise RefusedError(
                f"template {name} ({language}) cannot be sent now",
                reason="template_not_usable",
                details={"status": lookup.candidates[0].status},
            )
        if lookup is None or lookup.outcome != LookupOutcome.FOUND or lookup.template is None:
            raise RefusedError(
                f"no approved template {name} in {language} is known"
                + ("" if self._templates else " (META_WABA_ID is not set)"),
                reason="unknown_template",
            )
        template = lookup.template
        values = self._content.template_values(template, content)
        problems = template.problems(values)
        for placeholder in template.placeholders:
            problem = problems.get(placeholder.key)
            if problem is not None:
                raise InvalidContentError(
                    f"the value of {{{{{placeholder.name}}}}} ({placeholder.part.value}) "
                    + _PROBLEM_WORDS[problem],
                    field=_field_of(template, placeholder, content),
                )
        return {"template": to_json(template), "values": values, "text": template.render(values)}


def _field_of(
    template: MessageTemplate, placeholder: Placeholder, content: Mapping[str, Any]
) -> str:
    """Where, in template content as given, the value of ``placeholder`` is (or belongs)."""
    if content.get("components") is not None:
        return "content.components"
    if placeholder.part == Part.HEADER:
        return "content.header"
    if placeholder.part == Part.BUTTON:
        return "content.buttons"
    params = content.get("params")
    if isinstance(params, Mapping) and placeholder.name in params:
        return f"content.params.{placeholder.name}"
    if isinstance(params, list):
        body = [p for p in template.placeholders if p.part == Part.BODY]
        position = body.index(placeholder)
        if position < len(params):
            return f"content.params[{position}]"
    return "content.params"


def _same_request(first: MessageRecord, request: tuple[int, str, dict[str, Any]]) -> MessageRecord:
    """The first answer, if ``first`` was stored for this very request; else the key was
    reused."""
    given = {k: v for k, v in first.content.items() if k not in _ADDED_LATER}
    if first.message_type == "template":
        for added in _TEMPLATE_ADDED:
            given.pop(added, None)
    if (first.conversation_id, first.message_type, given) != request:
        raise RefusedError(
            "this Idempotency-Key came with another request: use a new key for a new message",
            reason="idempotency_key_reused",
            details={"message_id": first.id},
        )
    return _as_first_answered(first)


def _as_first_answered(message: MessageRecord) -> MessageRecord:
    """The message as the first request's answer showed it: stored ``pending``, nothing sent
    or reported yet (a retry answers what the first request was answered; where the message
    stands now is in the conversation's messages). Every field but those the request itself
    stored is reset, so a field added later for what happens to a message is reset too."""
    later: dict[str, Any] = {
        field.name: _NOT_YET.get(field.name)
        for field in fields(MessageRecord)
        if field.name not in _AS_STORED
    }
    content = {k: v for k, v in message.content.items() if k not in _ADDED_LATER}
    return replace(message, **later, content=content)
