"""Windows about to close: the parent shows where each stands, and the thread is warned at
each ``WABRIDGE_WARN_BEFORE`` mark with suggested templates, exactly once per mark per window.

The scan reads only the windows ending soon (a range of an index), and a unique row per
(conversation, window end, mark) makes each warning exactly-once whatever the number of
scheduler processes. A customer message moves the window's end, which arms the marks anew.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bridge.domain import Notice, NoticeKind
from bridge.domain.contacts import language_of
from bridge.jobs import JobContext, JobHandler, ShowWindow
from bridge.ports import ChatSurface, Clock, ConversationRecord, UnitOfWorkFactory
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import load_threaded_conversation
from bridge.usecases.templates import Templates, rank_templates
from bridge.usecases.threads import contact_view

__all__ = ["ScanResult", "ShowWindowHandler", "WindowWatch"]

log = logging.getLogger(__name__)

#: Windows that closed longer ago than this are not looked at again (after a long outage).
CLOSED_LOOKBACK: Final = timedelta(days=1)
#: Suggestions in a warning.
SUGGESTIONS: Final = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    warned: int
    closed: int


class ShowWindowHandler(JobHandler[ShowWindow]):
    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface) -> None:
        self._uow = uow
        self._chat = chat

    async def run(self, job: ShowWindow, ctx: JobContext) -> None:
        conversation, thread_ts = await load_threaded_conversation(self._uow, job.conversation_id)
        await self._chat.show_window(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            contact=contact_view(conversation),
        )


class WindowWatch:
    """The scan the scheduler runs every ``WABRIDGE_SCAN_INTERVAL``."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        marks: Sequence[timedelta],
        templates: Templates | None,
        on_queued: Callable[[float], None] = lambda due_in: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._marks = sorted(set(marks))
        self._templates = templates
        self._on_queued = on_queued

    async def scan(self) -> ScanResult:
        now = self._clock.now()
        due: list[tuple[ConversationRecord, timedelta]] = []
        async with self._uow() as uow:
            # Each window speaks at the nearest mark it has reached (after an outage, several
            # may have passed at once): mark m covers the windows ending in (previous mark, m].
            previous = timedelta(0)
            for mark in self._marks:
                due += [
                    (c, mark)
                    for c in await uow.conversations.windows_unmarked(
                        after=now + previous,
                        until=now + mark,
                        mark_seconds=int(mark.total_seconds()),
                    )
                ]
                previous = mark
            closed = await uow.conversations.windows_unmarked(
                after=now - CLOSED_LOOKBACK, until=now, mark_seconds=0
            )
        suggest = await self._suggester() if due else (lambda conversation: ())
        warned = sum([await self._warn(c, mark, now, suggest) for c, mark in due])
        closed_now = sum([await self._close(c, now) for c in closed])
        if warned or closed_now:
            self._on_queued(0)
            log.info("windows scanned", extra={"warned": warned, "closed": closed_now})
        return ScanResult(warned=warned, closed=closed_now)

    async def _suggester(self) -> Callable[[ConversationRecord], tuple[str, ...]]:
        if self._templates is None:
            return lambda conversation: ()
        usable = await self._templates.usable()
        usage = await self._templates.usage()

        def suggest(conversation: ConversationRecord) -> tuple[str, ...]:
            ranked = rank_templates(
                usable, language=language_of(conversation.contact_id), usage=usage
            )
            return tuple(f"{t.name}:{t.language}" for t in ranked[:SUGGESTIONS])

        return suggest

    async def _warn(
        self,
        conversation: ConversationRecord,
        mark: timedelta,
        now: datetime,
        suggest: Callable[[ConversationRecord], tuple[str, ...]],
    ) -> bool:
        expires = conversation.window_expires_at
        assert expires is not None
        async with self._uow() as uow:
            if not await uow.schedule.reach_mark(
                conversation.id,
                window_expires_at=expires,
                mark_seconds=int(mark.total_seconds()),
                now=now,
            ):
                return False
            notice = Notice(
                kind=NoticeKind.WINDOW_WARNING,
                window_expires_at=expires,
                suggestions=suggest(conversation),
            )
            await queue_notice(uow, conversation.id, notice, now=now)
            await uow.jobs.enqueue_once(ShowWindow(conversation_id=conversation.id), now=now)
            await uow.commit()
        log.info(
            "window warning queued",
            extra={"conversation_id": conversation.id, "mark_seconds": int(mark.total_seconds())},
        )
        return True

    async def _close(self, conversation: ConversationRecord, now: datetime) -> bool:
        expires = conversation.window_expires_at
        assert expires is not None
        async with self._uow() as uow:
            if not await uow.schedule.reach_mark(
                conversation.id, window_expires_at=expires, mark_seconds=0, now=now
            ):
                return False
            await uow.jobs.enqueue_once(ShowWindow(conversation_id=conversation.id), now=now)
            await uow.commit()
        return True
