"""What makes scheduled work exactly-once across processes: one row per mark, one per run."""

from __future__ import annotations

from datetime import datetime

from storage.models import ScheduledRun, WindowMark
from storage.repositories.base import Repository

__all__ = ["SqlSchedule"]


class SqlSchedule(Repository):
    async def reach_mark(
        self, conversation_id: int, *, window_expires_at: datetime, mark_seconds: int, now: datetime
    ) -> bool:
        """Record that a window reached a mark; True only for the first to record it."""
        statement = (
            self._insert(WindowMark)
            .values(
                conversation_id=conversation_id,
                window_expires_at=window_expires_at,
                mark_seconds=mark_seconds,
                reached_at=now,
            )
            .on_conflict_do_nothing()
            .returning(WindowMark.conversation_id)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None

    async def claim_run(self, job: str, *, slot: int, now: datetime) -> bool:
        """Claim the run of ``job`` in ``slot``; True only for the first to claim it."""
        statement = (
            self._insert(ScheduledRun)
            .values(job=job, slot=slot, claimed_at=now)
            .on_conflict_do_nothing()
            .returning(ScheduledRun.job)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None
