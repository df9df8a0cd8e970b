"""Retention: every hour (and at start), one process purges the bookkeeping older than
``WABRIDGE_RETENTION``."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from bridge.usecases.retention import Retention
from bridge.usecases.schedule import Slots
from scheduler.runner import Task

__all__ = ["retention_purge"]

EVERY: Final = timedelta(hours=1)


def retention_purge(retention: Retention, slots: Slots, *, every: timedelta = EVERY) -> Task:
    async def run() -> None:
        # One process per hour; another one that still purges meanwhile (a long first run)
        # does no harm: the batches skip each other's rows, and deleting is idempotent.
        if await slots.claim("retention_purge", every=every):
            await retention.purge()

    return Task(name="retention_purge", every=every, run=run)
