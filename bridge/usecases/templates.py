"""Message templates: kept in step with the WhatsApp Business Account, and looked up by agents.

A full sync (``wabridge templates sync``, and hourly in ``serve``) replaces what is stored
with every page Meta lists; Meta's template webhooks move a template's status, quality or
category in between. Only approved templates are ever offered.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from bridge.codec import to_json
from bridge.domain import (
    Direction,
    MessageStatus,
    MessageTemplate,
    SenderType,
    TemplateUpdate,
    ValueProblem,
)
from bridge.domain.contacts import language_of
from bridge.errors import DeliveryError
from bridge.jobs import JobContext, JobHandler, PostAgentMessage, SendReply, ShowDelivery
from bridge.ports import (
    AgentMessageView,
    BusinessNumber,
    ChatSurface,
    Clock,
    ConversationRecord,
    NewMessage,
    UnitOfWork,
    UnitOfWorkFactory,
    WhatsApp,
)
from bridge.usecases.records import finish, load_message
from bridge.usecases.threads import ensure_thread, recheck_since

__all__ = [
    "Choices",
    "Lookup",
    "LookupOutcome",
    "PostAgentMessageHandler",
    "SendOutcome",
    "SendResult",
    "SyncResult",
    "TemplateMessages",
    "TemplatePicker",
    "Templates",
    "apply_template_update",
    "rank_templates",
    "suggested",
]

log = logging.getLogger(__name__)

#: Suggestions rank templates by how often the team sent them among this many latest sends.
USAGE_SAMPLE = 500
#: Templates suggested in a warning or a window-closed notice.
SUGGESTIONS: Final = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    total: int
    usable: int


class LookupOutcome(enum.StrEnum):
    FOUND = "found"
    UNKNOWN = "unknown"
    NOT_USABLE = "not_usable"
    WHICH_LANGUAGE = "which_language"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    outcome: LookupOutcome
    template: MessageTemplate | None = None
    #: What exists under that name (languages to choose from, or the unusable one's status).
    candidates: tuple[MessageTemplate, ...] = ()


async def apply_template_update(uow: UnitOfWork, event: TemplateUpdate, *, now: datetime) -> bool:
    """Apply a template webhook in the caller's transaction; False if the template is new to
    us (the next sync brings it whole)."""
    applied = await uow.templates.apply_update(event, now=now)
    log.info(
        "template updated" if applied else "template update for a template not synced yet",
        extra={
            "template": event.name,
            "language": event.language,
            "status": event.status,
            "quality": event.quality,
        },
    )
    return applied


_CATEGORY_RANK: Final = {"UTILITY": 0, "MARKETING": 1}


def rank_templates(
    templates: Sequence[MessageTemplate], *, language: str | None, usage: dict[str, int]
) -> list[MessageTemplate]:
    """Approved templates, best first for a contact: their language, then UTILITY before
    MARKETING, then the team's most used."""

    def key(t: MessageTemplate) -> tuple[int, int, int, str]:
        same = language is not None and t.language.split("_")[0].lower() == language
        return (0 if same else 1, _CATEGORY_RANK.get(t.category, 2), -usage.get(t.name, 0), t.name)

    return sorted((t for t in templates if t.usable), key=key)


def suggested(
    templates: Sequence[MessageTemplate], *, language: str | None, usage: dict[str, int]
) -> tuple[str, ...]:
    """The ``SUGGESTIONS`` best for a contact who writes ``language``, as a notice carries
    them (``name:language``)."""
    ranked = rank_templates(templates, language=language, usage=usage)
    return tuple(f"{t.name}:{t.language}" for t in ranked[:SUGGESTIONS])


class Templates:
    """The templates of the WhatsApp Business Accounts the numbers belong to: the default
    account (``META_WABA_ID``), and that of each number added with its own (``--waba-id``).
    A conversation sends the templates of its number's account."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        whatsapp: WhatsApp,
        clock: Clock,
        waba_id: str,
        numbers: Callable[[], Awaitable[Sequence[BusinessNumber]]] | None = None,
    ) -> None:
        self._uow = uow
        self._whatsapp = whatsapp
        self._clock = clock
        self.waba_id = waba_id
        self._numbers = numbers

    async def _accounts(self) -> dict[str, str | None]:
        """Every account, with a number of it whose token reads it (None: the default's)."""
        accounts: dict[str, str | None] = {self.waba_id: None}
        for number in await self._numbers() if self._numbers is not None else ():
            if number.waba_id and not number.default:
                accounts.setdefault(number.waba_id, number.phone_number_id)
        return accounts

    async def account(
        self, *, phone_number_id: str | None = None, channel: str | None = None
    ) -> str:
        """The account whose templates a number sends (else the number of ``channel``, else
        the default number)."""
        numbers = list(await self._numbers()) if self._numbers is not None else []
        chosen = next((n for n in numbers if n.phone_number_id == phone_number_id), None)
        if chosen is None and phone_number_id is None:
            chosen = next((n for n in numbers if n.slack_channel == channel), None)
        if chosen is None or chosen.default or not chosen.waba_id:
            return self.waba_id
        return chosen.waba_id

    async def sync(self) -> SyncResult:
        """Fetch every template of every account, following Meta's pages to the end, and
        keep exactly those."""
        total = usable = 0
        refused: DeliveryError | None = None
        for waba_id, number in (await self._accounts()).items():
            try:
                templates = await self._whatsapp.templates(waba_id, phone_number_id=number)
            except DeliveryError as error:
                # One account refused (its number's token, say): the others are synced, and
                # the refusal is told once they are.
                log.warning(
                    "templates not synced", extra={"waba_id": waba_id, "reason": error.reason}
                )
                refused = refused or error
                continue
            async with self._uow() as uow:
                await uow.templates.replace_all(waba_id, templates, now=self._clock.now())
                await uow.commit()
            total += len(templates)
            usable += sum(t.usable for t in templates)
            log.info(
                "templates synced",
                extra={
                    "waba_id": waba_id,
                    "templates": len(templates),
                    "usable": sum(t.usable for t in templates),
                },
            )
        if refused is not None:
            raise refused
        return SyncResult(total=total, usable=usable)

    async def usage(self) -> dict[str, int]:
        """How often the team sent each template lately (for ranking suggestions)."""
        async with self._uow() as uow:
            return await uow.messages.template_usage(recent=USAGE_SAMPLE)

    async def all(self, waba_id: str | None = None) -> list[MessageTemplate]:
        """Every template of the account (the default one unless given)."""
        async with self._uow() as uow:
            return await uow.templates.all(waba_id or self.waba_id)

    async def suggest(self, contact_id: str, phone_number_id: str | None = None) -> tuple[str, ...]:
        """The approved templates to offer a contact of a number, best first (``suggested``)."""
        waba_id = await self.account(phone_number_id=phone_number_id)
        return suggested(
            await self.usable(waba_id=waba_id),
            language=language_of(contact_id),
            usage=await self.usage(),
        )

    async def usable(self, text: str = "", *, waba_id: str | None = None) -> list[MessageTemplate]:
        """Approved templates, by language then name; ``text`` filters on name, language,
        category and body."""
        needle = text.strip().lower()
        return sorted(
            (
                t
                for t in await self.all(waba_id)
                if t.usable
                and (
                    not needle
                    or needle in " ".join((t.name, t.language, t.category, t.body_text)).lower()
                )
            ),
            key=lambda t: (t.language, t.name),
        )

    async def find(
        self, name: str, language: str | None = None, *, waba_id: str | None = None
    ) -> Lookup:
        """The template an agent named, or why it cannot be used. A language without a region
        (``en``) finds the template in any of its regions (``en_US``), when it has no version
        in exactly that code."""
        named = [t for t in await self.all(waba_id) if t.name == name]
        if language:
            code = language.replace("-", "_").lower()
            exact = [t for t in named if t.language.lower() == code]
            if exact or "_" in code:
                named = exact
            else:
                named = [t for t in named if t.language.split("_")[0].lower() == code]
        usable = [t for t in named if t.usable]
        if not named:
            return Lookup(outcome=LookupOutcome.UNKNOWN)
        if not usable:
            return Lookup(outcome=LookupOutcome.NOT_USABLE, candidates=tuple(named))
        if len(usable) > 1:
            return Lookup(outcome=LookupOutcome.WHICH_LANGUAGE, candidates=tuple(usable))
        return Lookup(outcome=LookupOutcome.FOUND, template=usable[0])


class SendOutcome(enum.StrEnum):
    QUEUED = "queued"
    UNKNOWN_TEMPLATE = "unknown_template"
    NOT_USABLE = "not_usable"
    WHICH_LANGUAGE = "which_language"
    WRONG_VALUES = "wrong_values"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    outcome: SendOutcome
    template: MessageTemplate | None = None
    candidates: tuple[MessageTemplate, ...] = ()
    problems: Mapping[str, ValueProblem] = field(default_factory=dict)
    #: How many values were given in order, when their number was wrong.
    given: int | None = None
    conversation_id: int | None = None
    message_id: int | None = None
    rendered: str | None = None


class TemplateMessages:
    """Agents send approved templates to a contact: outside the window, or to start a
    conversation. The message goes through the same jobs as replies, and shows in the
    contact's thread (opened now if the contact has none)."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        whatsapp: WhatsApp,
        clock: Clock,
        templates: Templates,
        phone_number_id: str,
        channel: str,
        on_queued: Callable[[float], None] = lambda due_in: None,
        numbers: Callable[[], Awaitable[Sequence[BusinessNumber]]] | None = None,
    ) -> None:
        """``phone_number_id`` and ``channel`` are the default number's; ``numbers`` lists
        every number, so that a template sent in another number's channel leaves from it."""
        self._uow = uow
        self._whatsapp = whatsapp
        self._clock = clock
        self._templates = templates
        self._phone_number_id = phone_number_id
        self._channel = channel
        self._on_queued = on_queued
        self._numbers = numbers

    async def _number_for(
        self, phone_number_id: str | None, channel: str | None
    ) -> tuple[str, str]:
        """(phone number id, channel) to send from: the conversation's number, else the
        number whose channel the agent is in, else the default one."""
        known = list(await self._numbers()) if self._numbers is not None else []
        for number in known:
            if phone_number_id is not None and number.phone_number_id == phone_number_id:
                return number.phone_number_id, number.slack_channel
        if phone_number_id is not None:
            return phone_number_id, self._channel
        for number in known:
            if channel is not None and number.slack_channel == channel:
                return number.phone_number_id, number.slack_channel
        return self._phone_number_id, self._channel

    async def send(
        self,
        *,
        to: str,
        name: str,
        language: str | None,
        author: str | None,
        params: Sequence[str] | None = None,
        values: Mapping[str, str] | None = None,
        phone_number_id: str | None = None,
        channel: str | None = None,
    ) -> SendResult:
        """Queue ``name`` to the contact ``to`` (a WhatsApp id), filled with ``values`` (by
        placeholder key) or ``params`` (in order); or say why not, sending nothing. It
        leaves from ``phone_number_id`` (a conversation's number), else from the number of
        ``channel`` (where the agent asked), else from the default number, and is one of
        that number's account's templates."""
        sender, sender_channel = await self._number_for(phone_number_id, channel)
        waba_id = await self._templates.account(phone_number_id=sender)
        lookup = await self._templates.find(name, language, waba_id=waba_id)
        if lookup.outcome != LookupOutcome.FOUND or lookup.template is None:
            refused = {
                LookupOutcome.UNKNOWN: SendOutcome.UNKNOWN_TEMPLATE,
                LookupOutcome.NOT_USABLE: SendOutcome.NOT_USABLE,
                LookupOutcome.WHICH_LANGUAGE: SendOutcome.WHICH_LANGUAGE,
            }[lookup.outcome]
            return SendResult(outcome=refused, candidates=lookup.candidates)
        template = lookup.template
        if values is None:
            given = list(params or ())
            if len(given) != len(template.placeholders):
                return SendResult(
                    outcome=SendOutcome.WRONG_VALUES, template=template, given=len(given)
                )
            values = template.values_from(given)
        problems = template.problems(values)
        if problems:
            return SendResult(
                outcome=SendOutcome.WRONG_VALUES, template=template, problems=problems
            )
        return await self._queue(
            to=to,
            template=template,
            values=dict(values),
            author=author,
            phone_number_id=sender,
            channel=sender_channel,
        )

    async def _queue(
        self,
        *,
        to: str,
        template: MessageTemplate,
        values: dict[str, str],
        author: str | None,
        phone_number_id: str,
        channel: str,
    ) -> SendResult:
        async with self._uow() as uow:
            display = await uow.conversations.display_number(phone_number_id)
        if not display:  # the first conversation ever starts from our side
            display = await self._whatsapp.display_number(phone_number_id)
        now = self._clock.now()
        rendered = template.render(values)
        async with self._uow() as uow:
            conversation = await uow.conversations.get_or_create(
                phone_number_id=phone_number_id,
                display_phone_number=display,
                contact_id=to,
                contact_name=None,
                slack_channel=channel,
                now=now,
            )
            message = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation.id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type="template",
                    content={"text": rendered, "template": to_json(template), "values": values},
                    status=MessageStatus.PENDING,
                    created_at=now,
                    slack_user=author,
                )
            )
            assert message is not None  # no wamid nor key yet: nothing to collide with
            await uow.jobs.enqueue(
                PostAgentMessage(conversation_id=conversation.id, message_id=message.id), now=now
            )
            await uow.jobs.enqueue(
                SendReply(conversation_id=conversation.id, message_id=message.id), now=now
            )
            await uow.commit()
        self._on_queued(0)
        log.info(
            "template queued",
            extra={
                "conversation_id": conversation.id,
                "message_id": message.id,
                "template": template.name,
                "language": template.language,
            },
        )
        return SendResult(
            outcome=SendOutcome.QUEUED,
            template=template,
            conversation_id=conversation.id,
            message_id=message.id,
            rendered=rendered,
        )


class PostAgentMessageHandler(JobHandler[PostAgentMessage]):
    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface, clock: Clock) -> None:
        self._uow = uow
        self._chat = chat
        self._clock = clock

    async def run(self, job: PostAgentMessage, ctx: JobContext) -> None:
        message, conversation, _ = await load_message(
            self._uow, conversation_id=job.conversation_id, message_id=job.message_id
        )
        if message.slack_ts is not None:  # posted before a crash took the done mark
            await finish(self._uow, ctx)
            return
        retried = ctx.attempt > 1
        thread_ts = await ensure_thread(
            uow=self._uow, chat=self._chat, conversation=conversation, retried=retried
        )
        template = message.content.get("template") or {}
        ts = await self._chat.post_agent_message(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            message=AgentMessageView(
                author=message.slack_user,
                template=template.get("name"),
                language=template.get("language"),
                text=str(message.content.get("text") or message.content.get("caption") or ""),
                via_api=message.sender_type == SenderType.BOT,
                message_type=message.message_type,
                content=dict(message.content),
            ),
            key=ctx.uid,
            recheck_since=recheck_since(ctx.queued_at, retried=retried),
        )
        async with self._uow() as uow:
            await uow.messages.set_slack_ts(message.id, ts)
            # The send may have gone out already: show where it stands on the new post.
            await uow.jobs.enqueue(
                ShowDelivery(conversation_id=conversation.id, message_id=message.id),
                now=self._clock.now(),
            )
            await ctx.finish(uow)
            await uow.commit()


@dataclass(frozen=True, slots=True, kw_only=True)
class Choices:
    """The templates the picker offers a conversation: suggestions first, then the rest."""

    suggested: tuple[MessageTemplate, ...]
    others: tuple[MessageTemplate, ...]


class TemplatePicker:
    """What the template modal needs: whom it sends to, and which templates to offer."""

    #: Suggestions at the top of the picker.
    SUGGESTED = 5

    def __init__(self, *, uow: UnitOfWorkFactory, templates: Templates) -> None:
        self._uow = uow
        self._templates = templates

    async def conversation(self, conversation_id: int) -> ConversationRecord | None:
        async with self._uow() as uow:
            return await uow.conversations.get(conversation_id)

    async def conversation_of_thread(
        self, *, channel: str, thread_ts: str
    ) -> ConversationRecord | None:
        async with self._uow() as uow:
            return await uow.conversations.by_thread(channel=channel, thread_ts=thread_ts)

    async def choices(self, conversation: ConversationRecord, typed: str = "") -> Choices:
        """Approved templates ranked for this contact (their language, then UTILITY before
        MARKETING, then the team's most used); ``typed`` filters them."""
        waba_id = await self._templates.account(phone_number_id=conversation.phone_number_id)
        ranked = rank_templates(
            await self._templates.usable(typed, waba_id=waba_id),
            language=language_of(conversation.contact_id),
            usage=await self._templates.usage(),
        )
        cut = self.SUGGESTED if not typed.strip() else 0
        return Choices(suggested=tuple(ranked[:cut]), others=tuple(ranked[cut:]))

    async def template(
        self, choice: str, conversation: ConversationRecord
    ) -> MessageTemplate | None:
        """The approved template a picker option (``name:language``) stands for, among those
        of the conversation's number's account."""
        name, _, language = choice.partition(":")
        waba_id = await self._templates.account(phone_number_id=conversation.phone_number_id)
        found = await self._templates.find(name, language or None, waba_id=waba_id)
        return found.template
