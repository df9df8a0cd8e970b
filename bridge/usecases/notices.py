"""Notices in a thread: queued by the other flows, posted by ``PostNoticeHandler``."""

from __future__ import annotations

import logging
from datetime import datetime

from bridge.domain import FailureKind, Notice, NoticeKind
from bridge.errors import ExternalError
from bridge.jobs import JobContext, JobHandler, PostNotice
from bridge.ports import ChatSurface, UnitOfWork, UnitOfWorkFactory
from bridge.usecases.counts import WARNINGS_POSTED
from bridge.usecases.records import load_threaded_conversation
from bridge.usecases.threads import contact_view, recheck_since

__all__ = ["PostNoticeHandler", "queue_notice"]

log = logging.getLogger(__name__)


async def queue_notice(
    uow: UnitOfWork, conversation_id: int, notice: Notice, *, now: datetime
) -> None:
    """Queue a notice in the caller's transaction."""
    await uow.jobs.enqueue(PostNotice(conversation_id=conversation_id, notice=notice), now=now)


class PostNoticeHandler(JobHandler[PostNotice]):
    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface) -> None:
        self._uow = uow
        self._chat = chat

    async def run(self, job: PostNotice, ctx: JobContext) -> None:
        conversation, thread_ts = await load_threaded_conversation(self._uow, job.conversation_id)
        if job.show_window:
            # First, so that a retry after the post never leaves the parent stale. Repeated
            # by a retry, it costs an update that changes nothing.
            try:
                await self._chat.show_window(
                    channel=conversation.slack_channel,
                    thread_ts=thread_ts,
                    contact=contact_view(conversation),
                )
            except ExternalError as error:
                if error.kind != FailureKind.PERMANENT:
                    raise
                # A parent Slack will not update (deleted, say) must not keep the warning
                # from the thread.
                log.warning(
                    "thread parent not updated",
                    extra={"conversation_id": conversation.id, "reason": error.reason},
                )
        await self._chat.post_notice(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            notice=job.notice,
            conversation_id=conversation.id,
            key=ctx.uid,
            recheck_since=recheck_since(ctx.queued_at, retried=ctx.attempt > 1),
        )
        if job.notice.kind == NoticeKind.WINDOW_WARNING:
            # Counted with the done mark, by whoever holds the lease: once per warning.
            async with self._uow() as uow:
                if await ctx.finish(uow):
                    await uow.counters.add(WARNINGS_POSTED)
                await uow.commit()
        log.info(
            "notice posted",
            extra={"conversation_id": conversation.id, "notice": job.notice.kind.value},
        )
