"""Templates: synced from Meta every hour (and at start), by one process per hour."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from bridge.usecases.schedule import Slots
from bridge.usecases.templates import Templates
from scheduler.runner import Task

__all__ = ["template_sync"]

EVERY: Final = timedelta(hours=1)


def template_sync(templates: Templates, slots: Slots, *, every: timedelta = EVERY) -> Task:
    async def run() -> None:
        if await slots.claim("template_sync", every=every):
            await templates.sync()

    return Task(name="template_sync", every=every, run=run)
