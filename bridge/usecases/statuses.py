"""Meta reports a delivery status: move the message forward and show it on the agent's post."""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta

from bridge.domain import (
    MessageStatus,
    Notice,
    NoticeKind,
    StatusUpdate,
    advance_status,
    least_advanced,
    reached_stages,
)
from bridge.jobs import JobContext, JobHandler, ShowDelivery
from bridge.ports import ChatSurface, UnitOfWork, UnitOfWorkFactory
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message

__all__ = [
    "UNKNOWN_STATUS_GRACE",
    "ShowDeliveryHandler",
    "StatusOutcome",
    "apply_status",
    "status_may_be_early",
]

log = logging.getLogger(__name__)

#: A status for a wamid we do not know yet may be racing our own commit of that wamid.
UNKNOWN_STATUS_GRACE = timedelta(minutes=2)


class StatusOutcome(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    UNKNOWN_MESSAGE = "unknown_message"


def status_may_be_early(event: StatusUpdate, *, now: datetime) -> bool:
    """Whether an unknown wamid's status is recent enough to be racing our own send."""
    return now - event.timestamp < UNKNOWN_STATUS_GRACE


async def apply_status(uow: UnitOfWork, event: StatusUpdate, *, now: datetime) -> StatusOutcome:
    """Move a sent message's status forward, never back, and queue its Slack display."""
    message = await uow.messages.by_wamid(event.wamid)
    if message is None:
        return StatusOutcome.UNKNOWN_MESSAGE
    if event.status is None:
        return StatusOutcome.UNCHANGED
    new = advance_status(message.status, event.status)
    if new is None:
        return StatusOutcome.UNCHANGED
    if new == MessageStatus.FAILED:
        await uow.messages.mark_failed(
            message.id,
            at=event.timestamp,
            code=event.error_code,
            title=event.error_title,
            details=event.error_details,
        )
    else:
        await uow.messages.advance_status(message.id, status=new, at=event.timestamp)
    await uow.jobs.enqueue(
        ShowDelivery(conversation_id=message.conversation_id, message_id=message.id), now=now
    )
    if new == MessageStatus.FAILED:
        notice = Notice(
            kind=NoticeKind.DELIVERY_FAILED,
            error_code=event.error_code,
            error_title=event.error_title,
            error_details=event.error_details,
            problem=event.problem,
            reply_ts=message.slack_ts,
        )
        await queue_notice(uow, message.conversation_id, notice, now=now)
    log.info(
        "status applied",
        extra={
            "conversation_id": message.conversation_id,
            "message_id": message.id,
            "wamid": event.wamid,
            "status": new.value,
        },
    )
    return StatusOutcome.APPLIED


class ShowDeliveryHandler(JobHandler[ShowDelivery]):
    """Reactions on the agent's message, one per stage reached. The status is read when the
    job runs, so a backlog of changes for one message costs one display."""

    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface) -> None:
        self._uow = uow
        self._chat = chat

    async def run(self, job: ShowDelivery, ctx: JobContext) -> None:
        message, conversation, parts = await load_message(
            self._uow, conversation_id=job.conversation_id, message_id=job.message_id
        )
        if message.slack_ts is None:  # not an agent's Slack message: nothing to show it on
            await finish(self._uow, ctx)
            return
        # A reply sent in parts shows what every part has reached.
        status = least_advanced([p.status for p in parts])
        stages = reached_stages(status)
        shown = tuple(dict.fromkeys((*message.shown_stages, *(s.value for s in stages))))
        if shown != message.shown_stages:
            await self._chat.show_delivery(
                channel=conversation.slack_channel, ts=message.slack_ts, stages=stages
            )
        async with self._uow() as uow:
            await uow.messages.record_shown_stages(message.id, shown)
            await ctx.finish(uow)
            await uow.commit()
