"""The loops' shared parts: waking a loop when work arrives, backoff, and the loop itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["MAX_BACKOFF", "Wakeable", "backoff_delay", "run_loop"]

log = logging.getLogger(__name__)

MAX_BACKOFF: Final = 300.0


def backoff_delay(failures: int, *, base: float = 1.0, factor: float = 2.0) -> float:
    """Capped exponential backoff with jitter: about ``base`` after the first failure."""
    delay: float = min(MAX_BACKOFF, base * factor ** max(0, failures - 1))
    return delay * (0.75 + random.random() * 0.5)


class Wakeable:
    """A nudge: whoever stores new work calls ``wake`` so the loop need not wait its poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._covered = False

    def wake(self) -> None:
        self._event.set()

    def handed(self, *, covered: bool) -> None:
        """This process's worker was just offered the jobs a transaction queued (``Handoff``);
        ``covered``: it took every job due, so that transaction's ``queued`` finds none."""
        self._covered = covered

    def queued(self, due_in: float = 0.0) -> None:
        """Whoever committed jobs says so, due in ``due_in`` seconds: the loop wakes then,
        unless (due now) this process's worker took every one of them as they committed. A
        pass for nothing would run beside their calls to Slack and Meta."""
        covered, self._covered = self._covered, False
        if due_in > 0 or not covered:
            self.wake_in(due_in)

    def wake_in(self, seconds: float) -> None:
        """Wake the loop when work stored now becomes due (it would otherwise wait its poll)."""
        if seconds <= 0:
            self.wake()
        else:
            asyncio.get_running_loop().call_later(seconds, self.wake)

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


async def run_loop(
    name: str,
    step: Callable[[], Awaitable[bool]],
    wake: Wakeable,
    *,
    idle: float = 0.5,
    stop: asyncio.Event,
) -> None:
    """Call ``step`` until ``stop`` is set. It says whether more work may be waiting now (it
    took all it could); if not, sleep ``idle`` or until woken. A wake that came meanwhile is
    kept, so work stored during a step is looked for at once, and a step that drained
    everything costs no second, empty pass beside the work it started."""
    while not stop.is_set():
        try:
            more = await step()
        except Exception:
            log.exception("worker step failed", extra={"worker": name})
            more = False
        if not more:
            await wake.wait(idle)
