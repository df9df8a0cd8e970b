"""The scheduler: APScheduler's ``AsyncIOScheduler`` running the bridge's periodic tasks.

Each task is a plain coroutine function the composition root built; this module only says
when it runs. A task that raises is logged and runs again at its next time: one bad run
never stops the schedule. Exactly-once across processes is each task's own business (unique
rows), so any number of scheduler processes may run the same schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

__all__ = ["Scheduler", "Task"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    name: str
    every: timedelta
    run: Callable[[], Awaitable[object]]
    #: Also run once as soon as the scheduler starts (after a restart, do not wait a cycle).
    at_start: bool = True


class Scheduler:
    def __init__(self, tasks: Sequence[Task]) -> None:
        self._tasks = tuple(tasks)
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self._tasks

    def start(self) -> None:
        """Start the schedule on the running event loop."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        for task in self._tasks:
            scheduler.add_job(
                self._guarded(task),
                "interval",
                seconds=task.every.total_seconds(),
                id=task.name,
                next_run_time=datetime.now(UTC) if task.at_start else None,
                # A run that is late (the loop was busy) runs once, not once per missed slot.
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(task.every.total_seconds()),
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started", extra={"tasks": ",".join(t.name for t in self._tasks)})

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    @staticmethod
    def _guarded(task: Task) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await task.run()
            except asyncio.CancelledError:
                # The process is stopping mid-run: each run commits in batches and the next
                # one takes up where this left off. Not an error, and no traceback.
                log.info("scheduled task stopped by shutdown", extra={"task": task.name})
            except Exception:
                log.exception(
                    "scheduled task failed; it runs again next time", extra={"task": task.name}
                )

        run.__name__ = task.name
        return run
