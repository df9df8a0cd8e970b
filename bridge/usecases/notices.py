"""Notices in a thread: queued by the other flows, posted by ``PostNoticeHandler``."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Protocol

from bridge.domain import FailureKind, Notice, NoticeKind
from bridge.errors import ExternalError
from bridge.jobs import JobContext, JobHandler, PostNotice
from bridge.ports import ChatSurface, UnitOfWork, UnitOfWorkFactory
from bridge.usecases.counts import WARNINGS_POSTED
from bridge.usecases.records import load_threaded_conversation
from bridge.usecases.threads import contact_view, recheck_since

__all__ = ["PostNoticeHandler", "Suggest", "queue_notice"]

log = logging.getLogger(__name__)


async def queue_notice(
    uow: UnitOfWork, conversation_id: int, notice: Notice, *, now: datetime
) -> None:
    """Queue a notice in the caller's transaction."""
    await uow.jobs.enqueue(PostNotice(conversation_id=conversation_id, notice=notice), now=now)


class Suggest(Protocol):
    """The approved templates to offer a contact of a number (``Templates``)."""

    async def suggest(
        self, contact_id: str, phone_number_id: str | None = None
    ) -> tuple[str, ...]: ...

    async def account(
        self, *, phone_number_id: str | None = None, channel: str | None = None
    ) -> str: ...

    @property
    def waba_id(self) -> str:
        """The default account."""
        ...


class PostNoticeHandler(JobHandler[PostNotice]):
    """Posts a notice in its thread; a reply refused because the window closed is told which
    approved templates to send instead (``suggest``, where agents can send templates)."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, chat: ChatSurface, suggest: Suggest | None = None
    ) -> None:
        self._uow = uow
        self._chat = chat
        self._suggest = suggest

    async def _suggests(self, notice: Notice, phone_number_id: str) -> bool:
        """Whether the notice's suggestions are read here: a refused reply's always, and a
        warning's where its number has an account of its own (the scan ranks the default
        account's, for many windows at once)."""
        if self._suggest is None:
            return False
        if notice.kind == NoticeKind.WINDOW_CLOSED:
            return not notice.suggestions
        if notice.kind == NoticeKind.WINDOW_WARNING:
            account = await self._suggest.account(phone_number_id=phone_number_id)
            return account != self._suggest.waba_id
        return False

    async def run(self, job: PostNotice, ctx: JobContext) -> None:
        conversation, thread_ts = await load_threaded_conversation(self._uow, job.conversation_id)
        notice = job.notice
        if await self._suggests(notice, conversation.phone_number_id):
            assert self._suggest is not None
            # Read as the notice is posted: the templates synced by then, of the account of
            # the conversation's number, ranked for the contact's language and the team's use.
            suggestions = await self._suggest.suggest(
                conversation.contact_id, conversation.phone_number_id
            )
            notice = dataclasses.replace(notice, suggestions=suggestions)
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
            notice=notice,
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
