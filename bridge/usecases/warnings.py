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
from bridge.ports import ChatSurface, Clock, QueuedJob, UnitOfWorkFactory
from bridge.usecases.records import load_threaded_conversation
from bridge.usecases.templates import Templates, suggested
from bridge.usecases.threads import contact_view

__all__ = ["ScanResult", "ShowWindowHandler", "WindowWatch"]

log = logging.getLogger(__name__)

#: Windows that closed longer ago than this are not looked at again (after a long outage).
CLOSED_LOOKBACK: Final = timedelta(days=1)
#: Once this process has scanned, each mark looks first at the windows that reached it since
#: its last scan, less this (for clocks that differ between processes).
OVERLAP: Final = timedelta(minutes=5)
#: Each scan also sweeps one of this many parts of every mark's range, going on where the
#: last scan's sweep stopped: a window written already past a mark (its customer message came
#: more than a day less that mark late, after an outage) reached the mark before any scan
#: could see it, and is found within two rounds (twice as many scans: the round under way
#: may have passed it), or warned at the next mark.
SWEEP_PARTS: Final = 5
#: Marks recorded, and their jobs queued, per transaction: a minute's worth over a million
#: open windows is one, and none holds SQLite's one writer for long.
BATCH: Final = 2500


#: The templates to suggest to a contact (by contact id).
_Suggest = Callable[[str], tuple[str, ...]]


def _no_suggestions(contact_id: str) -> tuple[str, ...]:
    return ()


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
        #: Per mark (in seconds): the window end this process's sweep goes on from.
        self._swept_to: dict[int, datetime] = {}

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
        return max(lookback, self._scanned_at - OVERLAP)

    def _mark_ranges(
        self, low: datetime, high: datetime, mark: timedelta, swept_to: dict[int, datetime]
    ) -> list[tuple[datetime, datetime, int]]:
        """The ranges of window ends that mark ``mark`` (whose windows end in ``(low,
        high]``) looks at. The whole range at a process's first scan. Then the windows that
        reached the mark since its last scan, and the next part of the rest (which a scan
        before recorded, but for a window written already past the mark): each is a range of
        an index read whole by an anti-join, so a scan costs what reached a mark since the
        last, not all the windows within two hours of closing. ``swept_to`` gets where the
        sweep stopped."""
        seconds = int(mark.total_seconds())
        if self._scanned_at is None:
            swept_to[seconds] = low
            return [(low, high, seconds)]
        new_from = min(max(low, self._scanned_at + mark - OVERLAP), high)
        ranges = [(new_from, high, seconds)]
        start = self._swept_to.get(seconds, low)
        if not low <= start < new_from:  # a whole round swept, or the range moved past it
            start = low
        end = min(start + (high - low) / SWEEP_PARTS, new_from)
        if start < end:
            ranges.append((start, end, seconds))
        # At the top, the next scan starts again from the bottom (the top moves up with each
        # scan, and would otherwise always be a little ahead).
        swept_to[seconds] = end if end < new_from else low
        return ranges

    async def scan(self) -> ScanResult:
        now = self._clock.now()
        # Each window speaks at the nearest mark it has reached (after an outage, several
        # may have passed at once): mark m covers the windows ending in (previous mark, m].
        ranges: list[tuple[datetime, datetime, int]] = []
        swept_to: dict[int, datetime] = {}
        previous = timedelta(0)
        for mark in self._marks:
            ranges += self._mark_ranges(now + previous, now + mark, mark, swept_to)
            previous = mark
        ranges.append((self._closes_after(now), now, 0))
        # Read before the marks' transactions (on SQLite a read of its own inside one would
        # wait for it), so each scan reads it, a few milliseconds.
        suggest = await self._suggester()
        warned = closed = 0
        for after, until, mark_seconds in ranges:
            while True:
                recorded, full = await self._record(after, until, mark_seconds, now, suggest)
                if mark_seconds:
                    warned += recorded
                else:
                    closed += recorded
                if not full:
                    break
        self._scanned_at = now
        self._swept_to = swept_to
        if warned or closed:
            self._on_queued(0)
            log.info("windows scanned", extra={"warned": warned, "closed": closed})
        return ScanResult(warned=warned, closed=closed)

    async def _suggester(self) -> _Suggest:
        if self._templates is None:
            return _no_suggestions
        usable = await self._templates.usable()
        usage = await self._templates.usage()

        @functools.cache
        def suggest(language: str | None) -> tuple[str, ...]:
            return suggested(usable, language=language, usage=usage)

        return lambda contact_id: suggest(language_of(contact_id))

    async def _record(
        self,
        after: datetime,
        until: datetime,
        mark_seconds: int,
        now: datetime,
        suggest: _Suggest,
    ) -> tuple[int, bool]:
        """In one transaction: the mark of up to ``BATCH`` windows ending in ``(after,
        until]`` that no process recorded yet, and for each a warning that first updates the
        parent or, at the close, the parent's update. How many marks this recorded, and
        whether the batch was full (more may wait).

        No update already waiting is looked for: a customer message queues one, but also
        moves its window's end a day away, out of every mark's range; only a Slack lane hours
        behind could leave one waiting here, and a second update costs a call, not a wrong
        parent. (Looking cost a tenth of the scan.)"""
        async with self._uow() as uow:
            suggesting = mark_seconds != 0 and suggest is not _no_suggestions
            mine = await uow.schedule.mark_windows(
                after=after,
                until=until,
                mark_seconds=mark_seconds,
                now=now,
                limit=BATCH,
                with_contacts=suggesting,
            )
            if not mine:
                return 0, False
            ids = [m.conversation_id for m in mine]
            jobs: list[Job]
            if mark_seconds:
                jobs = [
                    # A warning shows the window on the parent itself.
                    PostNotice(
                        conversation_id=m.conversation_id,
                        show_window=True,
                        notice=Notice(
                            kind=NoticeKind.WINDOW_WARNING,
                            window_expires_at=m.window_expires_at,
                            suggestions=(suggest(m.contact_id) if m.contact_id is not None else ()),
                        ),
                    )
                    for m in mine
                ]
            else:
                jobs = [ShowWindow(conversation_id=c) for c in ids]
            await uow.jobs.enqueue_many([QueuedJob(job=job, seq=now) for job in jobs], now=now)
            await uow.commit()
        if mark_seconds and log.isEnabledFor(logging.DEBUG):
            for m in mine:
                log.debug(
                    "window warning queued",
                    extra={"conversation_id": m.conversation_id, "mark_seconds": mark_seconds},
                )
        return len(mine), len(mine) == BATCH
