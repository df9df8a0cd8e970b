"""Windows about to close: the parent shows where each stands, and the thread is warned at
each ``WABRIDGE_WARN_BEFORE`` mark with suggested templates, exactly once per mark per window.

The scan reads only the windows ending soon (a range of an index), and a unique row per
(conversation, window end, mark) makes each warning exactly-once whatever the number of
scheduler processes. A customer message moves the window's end, which arms the marks anew.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bridge.domain import Notice, NoticeKind
from bridge.domain.contacts import language_of
from bridge.jobs import Job, JobContext, JobHandler, PostNotice, ShowWindow
from bridge.ports import ChatSurface, Clock, DueMark, QueuedJob, UnitOfWorkFactory
from bridge.usecases.records import load_threaded_conversation
from bridge.usecases.templates import Templates, rank_templates
from bridge.usecases.threads import contact_view

__all__ = ["ScanResult", "ShowWindowHandler", "WindowWatch"]

log = logging.getLogger(__name__)

#: Windows that closed longer ago than this are not looked at again (after a long outage).
CLOSED_LOOKBACK: Final = timedelta(days=1)
#: Once this process has scanned, closes are looked for since its last scan, less this (for
#: clocks that differ between processes).
CLOSED_OVERLAP: Final = timedelta(minutes=5)
#: Suggestions in a warning.
SUGGESTIONS: Final = 3
#: Marks recorded, and their jobs queued, per transaction: a minute's worth over a million
#: open windows is one, and none holds SQLite's one writer for long.
BATCH: Final = 2500


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
        self._scanned_at: datetime | None = None

    def _closes_after(self, now: datetime) -> datetime:
        """Where the closes are looked for from. A day back at first (after a restart or an
        outage); then since this process's last scan that succeeded: a window closes at its
        end, so one that closed before that scan and is still unmarked was written already
        closed (a message more than a day late), and the customer message that wrote it
        queued the parent's update, which shows it closed. The whole day would be a range of
        the size of all the windows closed that day, read every scan."""
        lookback = now - CLOSED_LOOKBACK
        if self._scanned_at is None:
            return lookback
        return max(lookback, self._scanned_at - CLOSED_OVERLAP)

    async def scan(self) -> ScanResult:
        now = self._clock.now()
        due: list[DueMark] = []
        async with self._uow() as uow:
            # Each window speaks at the nearest mark it has reached (after an outage, several
            # may have passed at once): mark m covers the windows ending in (previous mark, m].
            previous = timedelta(0)
            for mark in self._marks:
                due += await uow.conversations.windows_unmarked(
                    after=now + previous,
                    until=now + mark,
                    mark_seconds=int(mark.total_seconds()),
                )
                previous = mark
            due += await uow.conversations.windows_unmarked(
                after=self._closes_after(now), until=now, mark_seconds=0
            )
        suggest = await self._suggester() if any(m.mark_seconds for m in due) else None
        warned = closed = 0
        for start in range(0, len(due), BATCH):
            w, c = await self._record(due[start : start + BATCH], now, suggest)
            warned, closed = warned + w, closed + c
        self._scanned_at = now
        if warned or closed:
            self._on_queued(0)
            log.info("windows scanned", extra={"warned": warned, "closed": closed})
        return ScanResult(warned=warned, closed=closed)

    async def _suggester(self) -> Callable[[str], tuple[str, ...]] | None:
        if self._templates is None:
            return None
        usable = await self._templates.usable()
        usage = await self._templates.usage()

        @functools.cache
        def suggest(language: str | None) -> tuple[str, ...]:
            ranked = rank_templates(usable, language=language, usage=usage)
            return tuple(f"{t.name}:{t.language}" for t in ranked[:SUGGESTIONS])

        return lambda contact_id: suggest(language_of(contact_id))

    async def _record(
        self,
        marks: Sequence[DueMark],
        now: datetime,
        suggest: Callable[[str], tuple[str, ...]] | None,
    ) -> tuple[int, int]:
        """In one transaction: the marks no other process recorded first, a warning for each
        of those before the close, and the parent's update for each window (unless one
        waits already). How many warnings and closes were queued."""
        async with self._uow() as uow:
            reached = await uow.schedule.reach_marks(marks, now=now)
            if not reached:
                return 0, 0
            mine = [m for m in marks if m in reached]  # in the scan's order
            warnings = [m for m in mine if m.mark_seconds]
            contacts = (
                await uow.conversations.contact_ids([m.conversation_id for m in warnings])
                if suggest is not None and warnings
                else {}
            )
            shown = await uow.jobs.waiting(ShowWindow, {m.conversation_id for m in mine}, now=now)
            jobs: list[Job] = [
                PostNotice(
                    conversation_id=m.conversation_id,
                    notice=Notice(
                        kind=NoticeKind.WINDOW_WARNING,
                        window_expires_at=m.window_expires_at,
                        suggestions=(
                            suggest(contacts[m.conversation_id])
                            if suggest is not None and m.conversation_id in contacts
                            else ()
                        ),
                    ),
                )
                for m in warnings
            ]
            jobs += [
                ShowWindow(conversation_id=m.conversation_id)
                for m in mine
                if m.conversation_id not in shown
            ]
            await uow.jobs.enqueue_many([QueuedJob(job=job, seq=now) for job in jobs], now=now)
            await uow.commit()
        for m in warnings:
            log.debug(
                "window warning queued",
                extra={"conversation_id": m.conversation_id, "mark_seconds": m.mark_seconds},
            )
        return len(warnings), len(mine) - len(warnings)
