"""A customer writes: store the message, open or renew the window, post it in the thread."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bridge.domain import (
    Direction,
    InboundMessage,
    MessageStatus,
    Notice,
    NoticeKind,
    SenderType,
    window_expires_at,
)
from bridge.errors import UnworkableJobError
from bridge.jobs import (
    JobContext,
    JobFailure,
    JobHandler,
    PostCustomerMessage,
    RelayMedia,
    ShowWindow,
)
from bridge.ports import ChatSurface, CustomerMessageView, NewMessage, UnitOfWork, UnitOfWorkFactory
from bridge.usecases.media import MEDIA_TYPES
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish
from bridge.usecases.threads import ensure_thread, recheck_since

__all__ = ["PostCustomerMessageHandler", "receive_inbound"]

log = logging.getLogger(__name__)


async def receive_inbound(
    uow: UnitOfWork, event: InboundMessage, *, now: datetime, channel: str, arrival: int = 0
) -> bool:
    """Store a customer message and queue its Slack post, in the caller's transaction.

    False if it was stored before (Meta delivers a webhook again until it hears 200).
    ``arrival`` orders messages of the same second (Meta's timestamps are whole seconds).
    """
    conversation = await uow.conversations.get_or_create(
        phone_number_id=event.phone_number_id,
        display_phone_number=event.display_phone_number,
        contact_id=event.contact_id,
        contact_name=event.contact_name,
        slack_channel=channel,
        now=now,
    )
    content: dict[str, Any] = dict(event.content)
    if event.text is not None:
        content["text"] = event.text
    if event.context_wamid:
        content["context_wamid"] = event.context_wamid
    message = await uow.messages.add(
        NewMessage(
            conversation_id=conversation.id,
            direction=Direction.INBOUND,
            sender_type=SenderType.CONTACT,
            message_type=event.message_type,
            content=content,
            status=MessageStatus.RECEIVED,
            created_at=event.timestamp,
            wamid=event.wamid,
        )
    )
    if message is None:
        log.info(
            "inbound duplicate ignored",
            extra={"conversation_id": conversation.id, "wamid": event.wamid},
        )
        return False
    await uow.conversations.record_message(
        conversation.id,
        at=event.timestamp,
        from_contact=True,
        window_expires_at=window_expires_at(event.timestamp),
    )
    # In the customer's order: by the message's own time, then as it reached us.
    await uow.jobs.enqueue(
        PostCustomerMessage(conversation_id=conversation.id, message_id=message.id),
        now=now,
        seq=event.timestamp,
        arrival=arrival,
    )
    # The parent shows the renewed window; a burst of messages costs one update.
    if event.message_type in MEDIA_TYPES:
        # The file follows its post, and never holds up the messages behind it.
        await uow.jobs.enqueue(
            RelayMedia(conversation_id=conversation.id, message_id=message.id),
            now=now,
            seq=event.timestamp,
            arrival=arrival,
        )
    # Behind the message's own post (same cause, queued after), so the thread exists.
    await uow.jobs.enqueue_once(
        ShowWindow(conversation_id=conversation.id), now=now, seq=event.timestamp, arrival=arrival
    )
    log.info(
        "inbound stored",
        extra={
            "conversation_id": conversation.id,
            "message_id": message.id,
            "wamid": event.wamid,
            "message_type": event.message_type,
        },
    )
    return True


class PostCustomerMessageHandler(JobHandler[PostCustomerMessage]):
    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface) -> None:
        self._uow = uow
        self._chat = chat

    async def run(self, job: PostCustomerMessage, ctx: JobContext) -> None:
        async with self._uow() as uow:
            message = await uow.messages.get(job.message_id)
            conversation = await uow.conversations.get(job.conversation_id)
        if message is None or conversation is None:
            raise UnworkableJobError(f"message {job.message_id} is gone", reason="message_gone")
        if message.slack_ts is not None:  # posted before a crash took the done mark
            await finish(self._uow, ctx)
            return
        retried = ctx.attempt > 1
        thread_ts = await ensure_thread(
            uow=self._uow, chat=self._chat, conversation=conversation, retried=retried
        )
        ts = await self._chat.post_customer_message(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            message=CustomerMessageView(
                message_type=message.message_type,
                text=message.content.get("text"),
                content=message.content,
                sent_at=message.created_at,
            ),
            key=ctx.uid,
            recheck_since=recheck_since(ctx.queued_at, retried=retried),
        )
        async with self._uow() as uow:
            await uow.messages.set_slack_ts(message.id, ts)
            await ctx.finish(uow)
            await uow.commit()
        log.info(
            "customer message posted",
            extra={"conversation_id": conversation.id, "message_id": message.id, "slack_ts": ts},
        )

    async def failed(self, uow: UnitOfWork, job: PostCustomerMessage, failure: JobFailure) -> None:
        # A gap the agent can see: the thread says a message is missing, and how to get it.
        notice = Notice(
            kind=NoticeKind.CUSTOMER_MESSAGE_MISSING,
            error_details=failure.reason,
            job_ref=f"job:{failure.job_id}",
        )
        await queue_notice(uow, job.conversation_id, notice, now=failure.at)
