"""The scheduler's guard around each task: failures are logged, a shutdown is not one."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from scheduler.runner import Scheduler, Task


async def test_a_run_cut_short_by_shutdown_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def purge() -> None:
        started.set()
        await asyncio.sleep(60)

    guarded = Scheduler._guarded(Task(name="retention_purge", every=timedelta(hours=1), run=purge))
    caplog.set_level(logging.INFO, logger="scheduler.runner")
    running = asyncio.create_task(guarded())
    await started.wait()
    running.cancel()
    await asyncio.wait([running])
    assert running.exception() is None  # nothing for APScheduler to log as a failure
    assert [r.getMessage() for r in caplog.records] == ["scheduled task stopped by shutdown"]
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_failed_run_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("database away")

    guarded = Scheduler._guarded(Task(name="window_scan", every=timedelta(minutes=1), run=broken))
    await guarded()
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
