"""The serving loop: it looks again at once only while a pass took all it could."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bridge.workers.loop import Wakeable, run_loop


def _start(step: Callable[[], Awaitable[bool]]) -> tuple[Wakeable, Callable[[], Awaitable[None]]]:
    """The loop running ``step``, polling once an hour; its wake, and how to stop it."""
    wake, stop = Wakeable(), asyncio.Event()
    loop = asyncio.create_task(run_loop("test", step, wake, idle=3600, stop=stop))

    async def stopped() -> None:
        stop.set()
        wake.wake()
        await asyncio.wait_for(loop, timeout=10)

    return wake, stopped


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
