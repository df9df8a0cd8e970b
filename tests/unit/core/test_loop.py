"""The serving loop: it looks again at once only while a pass took all it could, and gives
way to a rush of webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bridge.workers.loop import Rush, Wakeable, run_loop


def _start(step: Callable[[], Awaitable[bool]]) -> tuple[Wakeable, Callable[[], Awaitable[None]]]:
    """The loop running ``step``, polling once an hour; its wake, and how to stop it."""
    wake, stop = Wakeable(), asyncio.Event()
    loop = asyncio.create_task(run_loop("test", step, wake, idle=3600, stop=stop))

    async def stopped() -> None:
        stop.set()
        wake.wake()
        await asyncio.wait_for(loop, timeout=10)

    return wake, stopped


@contextlib.asynccontextmanager
async def _running(step: Callable[[], Awaitable[bool]], **options: Any) -> AsyncIterator[None]:
    """The loop running ``step`` with ``options``, stopped (and awaited) on the way out."""
    wake, stop = Wakeable(), asyncio.Event()
    loop = asyncio.create_task(run_loop("inbox", step, wake, stop=stop, **options))
    try:
        yield
    finally:
        stop.set()
        wake.wake()
        await asyncio.wait_for(loop, timeout=10)


async def _settle() -> None:
    """Let every task that can run, run (no I/O here: nothing else can make them ready)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_pass_that_drained_everything_waits_for_a_wake_before_looking_again() -> None:
    passes: list[int] = []

    async def step() -> bool:
        passes.append(len(passes) + 1)
        return len(passes) == 1  # the first pass took a full batch; the next drained the rest

    wake, stop = _start(step)
    await _settle()
    assert passes == [1, 2]  # no third, empty pass
    wake.wake()
    await _settle()
    assert passes == [1, 2, 3]
    await stop()


async def test_work_stored_during_a_pass_is_looked_for_at_once() -> None:
    passes = 0

    async def step() -> bool:
        nonlocal passes
        passes += 1
        if passes == 1:
            wake.wake()  # a webhook stored while the first pass ran
        return False

    wake, stop = _start(step)
    await _settle()
    assert passes == 2
    await stop()


async def test_a_failing_pass_waits_instead_of_spinning() -> None:
    passes = 0

    async def step() -> bool:
        nonlocal passes
        passes += 1
        raise RuntimeError("database away")

    _, stop = _start(step)
    await _settle()
    assert passes == 1
    await stop()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_step_that_keeps_failing_is_told_in_full_once_then_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database that is away fails every step: the log says so, without a traceback twice
    a second, and says when the steps work again."""
    clock = _Clock()
    errors: list[Exception] = [ConnectionError("database away")] * 5
    errors += [ConnectionError("database away"), KeyError("a bug")]

    worked = asyncio.Event()

    async def step() -> bool:
        if errors:
            clock.now += 20  # each failing step, 20 s later than the one before
            raise errors.pop(0)
        worked.set()
        return False

    caplog.set_level(logging.INFO, logger="bridge.workers.loop")
    async with _running(step, idle=0, clock=clock):
        await asyncio.wait_for(worked.wait(), timeout=10)

    told = [
        (r.getMessage(), getattr(r, "failures", None), r.exc_info is not None)
        for r in caplog.records
        if r.name == "bridge.workers.loop"
    ]
    assert told == [
        ("worker step failed", None, True),  # the first, in full (at 20 s)
        ("worker step still failing", 4, False),  # at 80 s, a minute on
        ("worker step failed", None, True),  # another kind of failure, in full again
        ("worker step works again", 7, False),
    ]


def test_a_rush_of_webhooks_has_the_loops_rest_three_times_as_long_as_each_step() -> None:
    clock = _Clock()
    rush = Rush(rate=400, share=0.25, window=0.1, clock=clock)
    for _ in range(39):  # 390 a second: a steady load, relayed as it comes
        rush.stored()
    assert not rush.pouring() and rush.rest_after(0.010) == 0
    rush.stored()  # 400 a second
    assert rush.pouring()
    assert rush.rest_after(0.010) == pytest.approx(0.030)
    assert rush.rest_after(5.0) == 0.5  # a step that waited on a lock was not busy
    clock.now += 0.15  # the next window: the last one's rush still counts
    assert rush.rest_after(0.010) == pytest.approx(0.030)
    clock.now += 0.12  # a whole window with no webhook: the rush is over
    assert not rush.pouring() and rush.rest_after(0.010) == 0


def test_while_webhook_requests_wait_or_pour_in_a_loop_takes_a_quarter_of_its_batch() -> None:
    clock = _Clock()
    rush = Rush(rate=400, window=0.1, crowd=8, clock=clock)
    assert rush.batch(20) == 20
    for _ in range(7):
        rush.arrived()
    assert rush.batch(20) == 20  # a few requests at once: steps as usual
    rush.arrived()  # the eighth waits: the first sign of a rush, before any is counted
    assert rush.batch(20) == 5 and rush.batch(2) == 1
    assert not rush.pouring() and rush.rest_after(0.010) == 0  # no rest for that alone
    for _ in range(8):
        rush.answered()
    assert rush.batch(20) == 20
    for _ in range(40):  # 400 a second, each answered as it came
        rush.arrived()
        rush.stored()
        rush.answered()
    assert rush.batch(20) == 5
    clock.now += 0.25  # quiet again
    assert rush.batch(20) == 20


async def test_while_webhooks_pour_in_the_loop_rests_between_its_steps() -> None:
    rush = Rush(clock=lambda: 0.0)  # the rush never ends
    for _ in range(1000):
        rush.stored()
    starts: list[float] = []
    took = 0.02
    three = asyncio.Event()

    async def step() -> bool:
        starts.append(time.perf_counter())
        while time.perf_counter() - starts[-1] < took:
            pass  # busy, as a step is: it holds the process
        if len(starts) == 3:
            three.set()
        return len(starts) < 3  # more work waiting after each of the first two

    async with _running(step, idle=3600, rush=rush):
        await asyncio.wait_for(three.wait(), timeout=10)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Each step took at least 20 ms, and was followed by at least three times as long a rest
    # (at most 0.5 s), so that the webhooks are answered meanwhile.
    assert all(gap >= 4 * took for gap in gaps), gaps
