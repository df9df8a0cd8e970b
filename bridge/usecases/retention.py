"""Data lifecycle: bookkeeping older than ``WABRIDGE_RETENTION`` is purged, a batch at a time.

Purged: webhook bodies processed successfully, jobs that ended ``done``, Slack event ids,
warning marks of windows long closed, claims of scheduled runs. Kept: pending work, dead
webhooks and failed jobs (an operator replays them), and everything the bridge is about
(messages, conversations, contacts, templates, counters). Each batch is its own short
transaction, so workers and webhooks never wait long behind the purge; a purge is
idempotent, so a run cut short is finished by the next.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta
from typing import Final

from bridge.ports import Clock, RetentionRepository, UnitOfWorkFactory
from bridge.usecases.warnings import CLOSED_LOOKBACK

__all__ = ["BATCH", "COUNTER_PREFIX", "Purged", "Retention"]

log = logging.getLogger(__name__)

#: Rows deleted per transaction.
BATCH: Final = 1000
#: The counters (``counters`` table) that total what was purged, one per kind.
COUNTER_PREFIX: Final = "purged_"
#: Window marks and scheduled-run claims are read for up to a day (the closed-window scan
#: looks a day back; no task runs less often than daily), so a short retention keeps them
#: that long: purged sooner, a warning or a run could happen twice.
_MIN_KEEP_SCHEDULING: Final = max(CLOSED_LOOKBACK, timedelta(days=1))


class Purged(enum.StrEnum):
    """The kinds of bookkeeping the purge deletes."""

    WEBHOOKS = "webhooks"
    JOBS = "jobs"
    SLACK_EVENTS = "slack_events"
    WINDOW_MARKS = "window_marks"
    SCHEDULED_RUNS = "scheduled_runs"


#: Kinds read by the scheduling itself, kept at least ``_MIN_KEEP_SCHEDULING``.
_SCHEDULING: Final = frozenset({Purged.WINDOW_MARKS, Purged.SCHEDULED_RUNS})


async def _purge_batch(
    repository: RetentionRepository, kind: Purged, *, before: datetime, limit: int
) -> int:
    match kind:
        case Purged.WEBHOOKS:
            return await repository.purge_processed_webhooks(before=before, limit=limit)
        case Purged.JOBS:
            return await repository.purge_finished_jobs(before=before, limit=limit)
        case Purged.SLACK_EVENTS:
            return await repository.purge_slack_events(before=before, limit=limit)
        case Purged.WINDOW_MARKS:
            return await repository.purge_window_marks(before=before, limit=limit)
        case Purged.SCHEDULED_RUNS:
            return await repository.purge_scheduled_runs(before=before, limit=limit)


class Retention:
    """The purge the scheduler runs (``scheduler/jobs/retention.py``)."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, keep: timedelta, batch: int = BATCH
    ) -> None:
        if keep <= timedelta(0) or batch <= 0:
            raise ValueError("retention and batch size must be positive")
        self._uow = uow
        self._clock = clock
        self._keep = keep
        self._batch = batch

    async def purge(self) -> dict[Purged, int]:
        """Delete every row of each kind older than the retention; how many of each."""
        now = self._clock.now()
        before = now - self._keep
        scheduling = min(before, now - _MIN_KEEP_SCHEDULING)
        purged = {
            kind: await self._drain(kind, before=scheduling if kind in _SCHEDULING else before)
            for kind in Purged
        }
        log.info(
            "retention purge",
            extra={
                "before": before.isoformat(),
                **{COUNTER_PREFIX + kind.value: count for kind, count in purged.items()},
            },
        )
        return purged

    async def _drain(self, kind: Purged, *, before: datetime) -> int:
        total = 0
        while True:
            async with self._uow() as uow:
                deleted = await _purge_batch(uow.retention, kind, before=before, limit=self._batch)
                if deleted:
                    await uow.counters.add(COUNTER_PREFIX + kind.value, deleted)
                await uow.commit()
            total += deleted
            if deleted < self._batch:
                return total
