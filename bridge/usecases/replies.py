"""An agent replies in a thread: queue it for WhatsApp if the window allows, then send it.

``Replies.queue`` records the reply (in parts, when it is longer than WhatsApp allows) and
queues its sends in one transaction; ``SendReplyHandler`` talks to Meta outside any
transaction, because a database transaction must never wait on the network. The text
arrives already converted from Slack's encoding: the core never sees it.
"""

from __future__ import annotations

import enum
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bridge.codec import from_json
from bridge.domain import (
    REFUSED_WINDOW_CLOSED,
    DeliveryProblem,
    Direction,
    FailureKind,
    MessageStatus,
    MessageTemplate,
    Notice,
    NoticeKind,
    SenderType,
    window_is_open,
)
from bridge.domain.media import CAPTIONED, MAX_CAPTION, MEDIA_LIMITS, outbound_file
from bridge.domain.text import split_text
from bridge.errors import DeliveryError, UnworkableJobError
from bridge.jobs import JobContext, JobFailure, JobHandler, MarkRead, SendReply, ShowDelivery
from bridge.ports import (
    ChatSurface,
    Clock,
    MessageRecord,
    NewMessage,
    UnitOfWork,
    UnitOfWorkFactory,
    WhatsApp,
)
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message
from bridge.usecases.statuses import report_failed_delivery

__all__ = [
    "EARLIER_PART_NOT_SENT",
    "REPLY_SETTLE",
    "AgentFile",
    "ChangeOutcome",
    "MarkReadHandler",
    "Quote",
    "Replies",
    "ReplyChanges",
    "ReplyOutcome",
    "ReplyResult",
    "SendReplyHandler",
]

log = logging.getLogger(__name__)

#: A reply waits this long before it may be sent. Slack may hand two quick replies to
#: concurrent listeners (or processes) that store them in either order; sends are ordered by
#: Slack's own timestamps, and this is how long a straggler has to take its place.
REPLY_SETTLE: Final = timedelta(milliseconds=250)
#: On which refused try the agent hears that a reply is waiting: a blip passes unnoticed.
TELL_AGENT_ON_ATTEMPT: Final = 2
#: A quote is matched against this many of the customer's latest messages.
QUOTE_LOOKBACK: Final = 50
#: The error kept on a part held back because an earlier part of its reply failed: a new
#: send of that earlier part takes these along.
EARLIER_PART_NOT_SENT: Final = "An earlier part of this reply was not sent"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentFile:
    """A file an agent shared in the thread, as Slack describes it."""

    id: str
    name: str
    mime_type: str
    size: int
    url: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mime_type": self.mime_type,
            "size": self.size,
            "url": self.url,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """A customer message an agent's reply points at: a link to its post (``slack_ts``) or
    its words quoted (``text``). ``rest`` is the reply without the link or quote."""

    slack_ts: str | None = None
    text: str | None = None
    rest: str = ""


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


async def _quoted_wamid(uow: UnitOfWork, conversation_id: int, quote: Quote | None) -> str | None:
    """The wamid of the customer message a quote points at, if it is one of this thread's."""
    if quote is None:
        return None
    if quote.slack_ts is not None:
        linked = await uow.messages.inbound_by_slack_ts(conversation_id, quote.slack_ts)
        return linked.wamid if linked is not None else None
    if quote.text and _normal(quote.text):
        wanted = _normal(quote.text)
        for message in await uow.messages.recent_inbound(conversation_id, limit=QUOTE_LOOKBACK):
            said = message.content.get("text") or message.content.get("caption")
            if isinstance(said, str) and _normal(said) == wanted:
                return message.wamid
    return None


class ReplyOutcome(enum.StrEnum):
    QUEUED = "queued"
    WINDOW_CLOSED = "window_closed"
    EMPTY = "empty"
    DUPLICATE = "duplicate"
    NOT_A_CONVERSATION = "not_a_conversation"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyResult:
    outcome: ReplyOutcome
    conversation_id: int | None = None
    message_ids: tuple[int, ...] = ()


class Replies:
    """Takes agents' thread replies in."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        settle: timedelta = REPLY_SETTLE,
        on_queued: Callable[[float], None] = lambda due_in: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._settle = settle
        self._on_queued = on_queued

    async def queue(
        self,
        *,
        channel: str,
        thread_ts: str,
        slack_ts: str,
        posted_at: datetime,
        user: str,
        text: str,
        event_id: str | None,
        files: Sequence[AgentFile] = (),
        quote: Quote | None = None,
    ) -> ReplyResult:
        """Queue a reply (its text, in parts if long, and its files) for WhatsApp if the
        window allows; else tell the agent why not.

        ``posted_at`` is when Slack says the agent posted it: replies go out in that order.
        ``quote`` is a customer message the agent quoted or linked: the reply then quotes it
        on WhatsApp too.
        """
        now = self._clock.now()
        async with self._uow() as uow:
            if event_id is not None and not await uow.slack_events.remember(event_id, now=now):
                return ReplyResult(outcome=ReplyOutcome.DUPLICATE)
            conversation = await uow.conversations.by_thread(channel=channel, thread_ts=thread_ts)
            if conversation is None:
                await uow.commit()
                return ReplyResult(outcome=ReplyOutcome.NOT_A_CONVERSATION)
            ids = {"conversation_id": conversation.id, "slack_ts": slack_ts}
            result = await self._queue(
                uow,
                conversation_id=conversation.id,
                window_expires_at=conversation.window_expires_at,
                channel=channel,
                slack_ts=slack_ts,
                posted_at=posted_at,
                user=user,
                text=text,
                files=files,
                quote=quote,
                now=now,
            )
            await uow.commit()
        if result.outcome == ReplyOutcome.QUEUED:
            self._on_queued(self._settle.total_seconds())
        log.info(
            "reply taken",
            extra={**ids, "outcome": result.outcome.value, "parts": len(result.message_ids)},
        )
        return result

    async def _queue(
        self,
        uow: UnitOfWork,
        *,
        conversation_id: int,
        window_expires_at: datetime | None,
        channel: str,
        slack_ts: str,
        posted_at: datetime,
        user: str,
        text: str,
        files: Sequence[AgentFile],
        quote: Quote | None,
        now: datetime,
    ) -> ReplyResult:
        if not window_is_open(window_expires_at, now=now):
            refused = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type="text",
                    content={"text": text, "files": [f.name for f in files]}
                    if files
                    else {"text": text},
                    status=MessageStatus.FAILED,
                    created_at=now,
                    slack_user=user,
                    slack_ts=slack_ts,
                    idempotency_key=f"slack:{channel}:{slack_ts}",
                )
            )
            if refused is None:
                return ReplyResult(outcome=ReplyOutcome.DUPLICATE, conversation_id=conversation_id)
            # Kept, failed, with the reason: refused replies show in the REST API and /wa status.
            await uow.messages.mark_failed(
                refused.id,
                at=now,
                code=None,
                title=REFUSED_WINDOW_CLOSED,
                details="the 24-hour window was closed; nothing was sent",
            )
            notice = Notice(
                kind=NoticeKind.WINDOW_CLOSED,
                window_expires_at=window_expires_at,
                reply_ts=slack_ts,
            )
            await queue_notice(uow, conversation_id, notice, now=now)
            return ReplyResult(outcome=ReplyOutcome.WINDOW_CLOSED, conversation_id=conversation_id)
        reply_to = await _quoted_wamid(uow, conversation_id, quote)
        if reply_to is not None and quote is not None:
            text = quote.rest  # the customer sees WhatsApp's own quote instead
        sendable: list[tuple[AgentFile, str]] = []
        for file in files:
            fit = outbound_file(file.name, file.mime_type, file.size)
            if fit.refusal is not None:
                notice = Notice(
                    kind=NoticeKind.FILE_NOT_SENT, error_details=fit.refusal, reply_ts=slack_ts
                )
                await queue_notice(uow, conversation_id, notice, now=now)
            else:
                sendable.append((file, fit.kind))
        caption: str | None = None
        if (
            len(sendable) == 1
            and sendable[0][1] in CAPTIONED
            and 0 < len(text.strip()) <= MAX_CAPTION
        ):
            caption, text = text.strip(), ""  # one picture with a few words: a caption
        parts = split_text(text.strip()) if text.strip() else []
        if not parts and not sendable:
            if not files:
                # Caught before any call: Meta would refuse an empty text; a retry cannot help.
                await queue_notice(
                    uow,
                    conversation_id,
                    Notice(kind=NoticeKind.REPLY_EMPTY, reply_ts=slack_ts),
                    now=now,
                )
            return ReplyResult(outcome=ReplyOutcome.EMPTY, conversation_id=conversation_id)
        items: list[tuple[str, dict[str, Any]]] = []
        for number, part in enumerate(parts, start=1):
            content: dict[str, Any] = {"text": part}
            if len(parts) > 1:
                content.update(part=number, parts=len(parts))
            items.append(("text", content))
        for file, kind in sendable:
            content = {"file": file.as_json()}
            if caption is not None:
                content["caption"] = caption
            if kind == "document":
                content["filename"] = file.name
            items.append((kind, content))
        if reply_to is not None:
            items[0][1]["reply_to"] = reply_to
        message_ids: list[int] = []
        for number, (message_type, content) in enumerate(items, start=1):
            key = f"slack:{channel}:{slack_ts}" + (f"#{number}" if number > 1 else "")
            message = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type=message_type,
                    content=content,
                    status=MessageStatus.PENDING,
                    created_at=now,
                    slack_user=user,
                    slack_ts=slack_ts,
                    idempotency_key=key,
                )
            )
            if message is None:  # this Slack message was taken before (an event sent twice)
                return ReplyResult(outcome=ReplyOutcome.DUPLICATE, conversation_id=conversation_id)
            message_ids.append(message.id)
            await uow.jobs.enqueue(
                SendReply(conversation_id=conversation_id, message_id=message.id),
                now=now,
                seq=posted_at,
                arrival=number,
                not_before=now + self._settle,
            )
        latest = await uow.messages.latest_inbound(conversation_id)
        if latest is not None and latest.wamid is not None:
            # Behind the sends in the same lane: the customer sees "read" as the answer comes.
            await uow.jobs.enqueue(
                MarkRead(conversation_id=conversation_id, wamid=latest.wamid),
                now=now,
                seq=posted_at,
                arrival=len(items) + 1,
                not_before=now + self._settle,
            )
        if len(parts) > 1:
            notice = Notice(kind=NoticeKind.REPLY_SPLIT, parts=len(parts), reply_ts=slack_ts)
            await queue_notice(uow, conversation_id, notice, now=now)
        return ReplyResult(
            outcome=ReplyOutcome.QUEUED,
            conversation_id=conversation_id,
            message_ids=tuple(message_ids),
        )


class ChangeOutcome(enum.StrEnum):
    APPLIED = "applied"
    TOO_LATE = "too_late"
    IGNORED = "ignored"


class ReplyChanges:
    """An agent edits or deletes a thread reply. WhatsApp cannot edit or delete a message
    once sent, so only a reply still queued changes; otherwise the agent is told."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def edit(
        self, *, channel: str, slack_ts: str, text: str, event_id: str | None
    ) -> ChangeOutcome:
        return await self._change(channel=channel, slack_ts=slack_ts, text=text, event_id=event_id)

    async def delete(self, *, channel: str, slack_ts: str, event_id: str | None) -> ChangeOutcome:
        return await self._change(channel=channel, slack_ts=slack_ts, text=None, event_id=event_id)

    async def _change(
        self, *, channel: str, slack_ts: str, text: str | None, event_id: str | None
    ) -> ChangeOutcome:
        now = self._clock.now()
        async with self._uow() as uow:
            if event_id is not None and not await uow.slack_events.remember(event_id, now=now):
                return ChangeOutcome.IGNORED
            message = await uow.messages.by_idempotency_key(f"slack:{channel}:{slack_ts}")
            if message is None or message.status == MessageStatus.FAILED:
                await uow.commit()  # not a reply we took, or one that never went out
                return ChangeOutcome.IGNORED
            split = int(message.content.get("parts", 1)) > 1
            if text is None:
                applied = not split and await uow.messages.cancel_queued(message.id, at=now)
                kind = NoticeKind.REPLY_CANCELLED if applied else NoticeKind.DELETE_NOT_DELIVERED
            else:
                parts = split_text(text.strip()) if text.strip() else []
                applied = (
                    not split
                    and len(parts) == 1
                    and await uow.messages.replace_queued_text(message.id, parts[0])
                )
                kind = NoticeKind.EDIT_APPLIED if applied else NoticeKind.EDIT_NOT_DELIVERED
            await queue_notice(
                uow, message.conversation_id, Notice(kind=kind, reply_ts=slack_ts), now=now
            )
            await uow.commit()
        log.info(
            "reply changed" if applied else "reply change not delivered",
            extra={"conversation_id": message.conversation_id, "message_id": message.id},
        )
        return ChangeOutcome.APPLIED if applied else ChangeOutcome.TOO_LATE


#: Keys of a stored message's content that are the bridge's own, never sent to WhatsApp.
_OWN_KEYS: Final = frozenset({"part", "parts", "reply_to", "file", "files", "sent_via"})


class SendReplyHandler(JobHandler[SendReply]):
    """Sends one outbound message: a reply's text (or one part of it), an agent's file, a
    reaction, a template, or whatever the REST API was given."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        whatsapp: WhatsApp,
        chat: ChatSurface,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._whatsapp = whatsapp
        self._chat = chat
        self._clock = clock

    async def _media_id(self, message: MessageRecord, phone_number_id: str) -> str:
        """An agent's file, brought from Slack to Meta (once: a retry reuses the upload)."""
        known = message.content.get("media_id")
        if isinstance(known, str) and known:
            return known
        file = message.content["file"]
        limit = MEDIA_LIMITS.get(message.message_type, MEDIA_LIMITS["document"])
        with tempfile.TemporaryDirectory(prefix="wabridge-out-") as folder:
            path = Path(folder) / "file"
            await self._chat.download_file(url=str(file["url"]), dest=path, max_bytes=limit)
            media_id = await self._whatsapp.upload_media(
                phone_number_id=phone_number_id,
                path=path,
                mime_type=str(file["mime_type"]),
                filename=str(file["name"]),
            )
        async with self._uow() as uow:
            await uow.messages.record_media_id(message.id, media_id)
            await uow.commit()
        return media_id

    async def run(self, job: SendReply, ctx: JobContext) -> None:
        message, conversation, parts = await load_message(
            self._uow, conversation_id=job.conversation_id, message_id=job.message_id
        )
        ids = {"conversation_id": conversation.id, "message_id": message.id, "attempt": ctx.attempt}
        if message.wamid is not None or message.status == MessageStatus.DELETED:
            # Sent before a crash took the done mark, or the agent deleted it in time.
            await finish(self._uow, ctx)
            return
        if ctx.call_started:
            raise DeliveryError(
                code=None,
                title="WhatsApp never answered an earlier try",
                details="the reply may or may not have reached the customer",
                kind=FailureKind.UNKNOWN_OUTCOME,
                problem=DeliveryProblem.UNKNOWN_OUTCOME,
                reason="unknown_outcome",
            )
        place = next((n for n, p in enumerate(parts) if p.id == message.id), None)
        if place is None:
            # An agent sent it again meanwhile (this is a replay of the failed send).
            log.info("reply already sent again by an agent", extra=ids)
            await finish(self._uow, ctx)
            return
        if any(p.status == MessageStatus.FAILED for p in parts[:place]):
            raise DeliveryError(
                code=None,
                title=EARLIER_PART_NOT_SENT,
                kind=FailureKind.PERMANENT,
                problem=DeliveryProblem.EARLIER_PART_FAILED,
                reason="earlier_part_failed",
            )
        template = message.message_type == "template"
        if not template and not window_is_open(
            conversation.window_expires_at, now=self._clock.now()
        ):
            raise DeliveryError(
                code=None,
                title="The 24-hour window closed",
                details="it closed while the reply waited to be sent",
                kind=FailureKind.PERMANENT,
                problem=DeliveryProblem.WINDOW_CLOSED,
                reason="window_closed",
            )
        async with self._uow() as uow:
            frozen = await uow.messages.begin_send(message.id, at=self._clock.now())
            await uow.commit()
        if frozen is None:  # the agent deleted it a moment ago
            await finish(self._uow, ctx)
            return
        message = frozen  # with the agent's last edit, if one came in time
        content = {k: v for k, v in message.content.items() if k not in _OWN_KEYS}
        if "file" in message.content:
            content.pop("media_id", None)
            content = {
                "media_id": await self._media_id(message, conversation.phone_number_id),
                **content,
            }
        reply_to = message.content.get("reply_to")
        # From here until the answer is recorded, a crash leaves the outcome unknown, and the
        # next holder of this job asks the agent instead of sending blindly again.
        await ctx.starting_call()
        if template and "template" in message.content:  # picked in Slack: a stored template
            wamid = await self._whatsapp.send_template(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                template=from_json(MessageTemplate, message.content["template"]),
                values=dict(message.content.get("values") or {}),
            )
        else:
            wamid = await self._whatsapp.send_message(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                message_type=message.message_type,
                content=content,
                reply_to=reply_to if isinstance(reply_to, str) else None,
            )
        sent_at = self._clock.now()
        reaction = message.message_type == "reaction"
        async with self._uow() as uow:
            # What happened outside is recorded even if the lease ran out meanwhile.
            await uow.messages.mark_sent(message.id, wamid=wamid, at=sent_at)
            if reaction:  # no post of its own: it shows as the agent's emoji on the customer's
                target = await uow.messages.by_wamid(str(message.content.get("message_id")))
                # An agent's reaction was recorded when it was queued (usecases/reactions.py):
                # recording it again as it goes out could undo a later one already queued.
                if target is not None and message.sender_type != SenderType.AGENT:
                    emoji = str(message.content.get("emoji") or "")
                    await uow.messages.set_agent_reaction(target.id, emoji or None)
            else:
                await uow.conversations.record_message(
                    conversation.id, at=sent_at, from_contact=False, window_expires_at=None
                )
                await uow.jobs.enqueue(
                    ShowDelivery(conversation_id=conversation.id, message_id=message.id),
                    now=sent_at,
                )
            await ctx.finish(uow)
            await uow.commit()
        log.info("reply sent", extra={**ids, "wamid": wamid})

    async def delayed(
        self, uow: UnitOfWork, job: SendReply, failure: JobFailure, *, attempt: int
    ) -> None:
        if attempt != TELL_AGENT_ON_ATTEMPT:
            return
        message = await uow.messages.get(job.message_id)
        notice = Notice(
            kind=NoticeKind.SEND_DELAYED,
            error_code=failure.code,
            error_title=failure.title,
            problem=failure.problem,
            reply_ts=message.slack_ts if message is not None else None,
        )
        await queue_notice(uow, job.conversation_id, notice, now=failure.at)

    async def failed(self, uow: UnitOfWork, job: SendReply, failure: JobFailure) -> None:
        message = await uow.messages.get(job.message_id)
        if message is None or message.wamid is not None:
            return
        await report_failed_delivery(
            uow,
            message,
            at=failure.at,
            code=failure.code,
            title=failure.title,
            details=failure.details,
            problem=failure.problem,
            now=failure.at,
            kind=failure.kind,
            job_ref=f"job:{failure.job_id}",
            recorded_title=failure.title or failure.reason,
            recorded_details=failure.details or failure.error,
        )


class MarkReadHandler(JobHandler[MarkRead]):
    """The customer sees their messages read once an agent has answered (cosmetic)."""

    def __init__(self, *, uow: UnitOfWorkFactory, whatsapp: WhatsApp) -> None:
        self._uow = uow
        self._whatsapp = whatsapp

    async def run(self, job: MarkRead, ctx: JobContext) -> None:
        async with self._uow() as uow:
            conversation = await uow.conversations.get(job.conversation_id)
        if conversation is None:
            raise UnworkableJobError(
                f"conversation {job.conversation_id} is gone", reason="conversation_gone"
            )
        await self._whatsapp.mark_read(
            phone_number_id=conversation.phone_number_id, wamid=job.wamid
        )
