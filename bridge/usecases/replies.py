"""An agent replies in a thread: queue it for WhatsApp if the window allows, then send it.

``Replies.queue`` records the reply (in parts, when it is longer than WhatsApp allows) and
queues its sends in one transaction; ``SendReplyHandler`` talks to Meta outside any
transaction, because a database transaction must never wait on the network. The text
arrives already converted from Slack's encoding: the core never sees it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

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
from bridge.domain.text import split_text
from bridge.errors import DeliveryError, UnworkableJobError
from bridge.jobs import JobContext, JobFailure, JobHandler, MarkRead, SendReply, ShowDelivery
from bridge.ports import Clock, NewMessage, UnitOfWork, UnitOfWorkFactory, WhatsApp
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message
from bridge.usecases.statuses import report_failed_delivery

__all__ = [
    "REPLY_SETTLE",
    "ChangeOutcome",
    "MarkReadHandler",
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
    ) -> ReplyResult:
        """Queue a reply for WhatsApp if the window allows; else tell the agent why not.

        ``posted_at`` is when Slack says the agent posted it: replies go out in that order.
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
        now: datetime,
    ) -> ReplyResult:
        if not window_is_open(window_expires_at, now=now):
            refused = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type="text",
                    content={"text": text},
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
        parts = split_text(text.strip()) if text.strip() else []
        if not parts:
            # Caught before any call: Meta would refuse an empty text, and a retry cannot help.
            await queue_notice(
                uow,
                conversation_id,
                Notice(kind=NoticeKind.REPLY_EMPTY, reply_ts=slack_ts),
                now=now,
            )
            return ReplyResult(outcome=ReplyOutcome.EMPTY, conversation_id=conversation_id)
        message_ids: list[int] = []
        for number, part in enumerate(parts, start=1):
            key = f"slack:{channel}:{slack_ts}" + (f"#{number}" if number > 1 else "")
            content: dict[str, object] = {"text": part}
            if len(parts) > 1:
                content.update(part=number, parts=len(parts))
            message = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type="text",
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
                arrival=len(parts) + 1,
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


class SendReplyHandler(JobHandler[SendReply]):
    def __init__(self, *, uow: UnitOfWorkFactory, whatsapp: WhatsApp, clock: Clock) -> None:
        self._uow = uow
        self._whatsapp = whatsapp
        self._clock = clock

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
        if any(p.status == MessageStatus.FAILED and p.id < message.id for p in parts):
            raise DeliveryError(
                code=None,
                title="An earlier part of this reply was not sent",
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
        # From here until the answer is recorded, a crash leaves the outcome unknown, and the
        # next holder of this job asks the agent instead of sending blindly again.
        await ctx.starting_call()
        if template:
            wamid = await self._whatsapp.send_template(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                template=from_json(MessageTemplate, message.content["template"]),
                values=dict(message.content.get("values") or {}),
            )
        else:
            wamid = await self._whatsapp.send_text(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                text=str(message.content.get("text", "")),
            )
        sent_at = self._clock.now()
        async with self._uow() as uow:
            # What happened outside is recorded even if the lease ran out meanwhile.
            await uow.messages.mark_sent(message.id, wamid=wamid, at=sent_at)
            await uow.conversations.record_message(
                conversation.id, at=sent_at, from_contact=False, window_expires_at=None
            )
            await uow.jobs.enqueue(
                ShowDelivery(conversation_id=conversation.id, message_id=message.id), now=sent_at
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
