"""Scheduled runs, exactly once across processes: the first process to claim a time slot
runs the task in it; the others skip it."""

from __future__ import annotations

from datetime import timedelta

from bridge.ports import Clock, UnitOfWorkFactory

__all__ = ["Slots"]


class Slots:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def claim(self, job: str, *, every: timedelta) -> bool:
        """True for the one process that claims ``job``'s current slot of length ``every``."""
        now = self._clock.now()
        slot = int(now.timestamp() // every.total_seconds())
        async with self._uow() as uow:
            claimed = await uow.schedule.claim_run(job, slot=slot, now=now)
            await uow.commit()
        return claimed
