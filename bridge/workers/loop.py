"""The loops' shared parts: waking a loop when work arrives, giving way to a rush of
webhooks, backoff, and the loop itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["FAILING_TOLD_EVERY", "MAX_BACKOFF", "Rush", "Wakeable", "backoff_delay", "run_loop"]

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

    @property
    def woken(self) -> bool:
        """Whether the loop's next wait returns at once (it was woken since its last)."""
        return self._event.is_set()

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


#: Webhooks a second from which they pour in: far more than one process relays (about 150 to
#: 250 customer messages a second, ``docs/operations.md``), so its work falls behind anyway.
RUSH_RATE: Final = 400.0
#: The share of the process's time its loops keep while webhooks pour in.
RUSH_SHARE: Final = 0.25
#: The longest a loop gives way after one step (a step that waited on a lock was not busy).
RUSH_LONGEST: Final = 0.5
#: The share of its batch a loop takes in one step while webhooks pour in or wait.
RUSH_BATCH_SHARE: Final = 0.25
#: Webhook requests waiting for their answer from which a loop's steps are smaller.
RUSH_CROWD: Final = 8


class Rush:
    """Whether Meta's webhooks pour into this process, and the loops' way of giving way then.

    A webhook is answered once stored; relaying it can wait. While webhooks pour in, each
    loop of the same process rests after a step for three times as long as the step took,
    keeping a quarter of the time, so that the process goes on answering Meta at nearly the
    rate of one that only answers (``bench/RESULTS.md``). The work is on disk meanwhile, in
    order, and the loops catch up once the rush is over; they never stop. Below the rush
    rate the loops never wait: a steady load is relayed as it comes.

    A step also takes a quarter of its batch then, and whenever several webhook requests
    wait for their answer (``batch``): each step holds the event loop (and, on SQLite, the
    one writer) a quarter as long, so Meta's requests wait less. The requests waiting are
    the first sign: counted over a second, a rush shows only once its first few hundred
    webhooks have waited behind whole batches (``bench/RESULTS.md``: p99 to ``200``).
    """

    def __init__(
        self,
        *,
        rate: float = RUSH_RATE,
        share: float = RUSH_SHARE,
        window: float = 1.0,
        crowd: int = RUSH_CROWD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._enough = rate * window
        self._rest = (1 - share) / share
        self._window = window
        self._clock = clock
        self._opened = clock()
        self._count = 0
        self._before = 0  # webhooks in the window before this one
        self._crowd = crowd
        self._waiting = 0  # webhook requests not answered yet

    def arrived(self) -> None:
        """A webhook request came in."""
        self._waiting += 1

    def stored(self) -> None:
        """One more webhook stored."""
        self._roll()
        self._count += 1

    def answered(self) -> None:
        """A webhook request was answered."""
        self._waiting = max(0, self._waiting - 1)

    def pouring(self) -> bool:
        self._roll()
        return max(self._count, self._before) >= self._enough

    def rest_after(self, took: float) -> float:
        """How long a loop rests after a step that took ``took`` seconds."""
        return min(RUSH_LONGEST, took * self._rest) if self.pouring() else 0.0

    def batch(self, full: int) -> int:
        """How many items a loop whose batch is ``full`` takes in one step now."""
        crowded = self._waiting >= self._crowd or self.pouring()
        return max(1, int(full * RUSH_BATCH_SHARE)) if crowded else full

    def _roll(self) -> None:
        now = self._clock()
        if now - self._opened < self._window:
            return
        # The window just closed becomes the one before, unless a quiet window came between.
        self._before = self._count if now - self._opened < 2 * self._window else 0
        self._count = 0
        self._opened = now


#: Seconds between the lines that say a loop's steps still fail the same way.
FAILING_TOLD_EVERY: Final = 60.0


class _Failures:
    """A loop's failing steps, told without flooding the log: a database that is away fails
    every step, twice a second. The first failure (and one of another kind) is logged with
    its traceback; the same failure again, once a minute with how many there were; the first
    step that works again, once."""

    def __init__(self, name: str, clock: Callable[[], float]) -> None:
        self._name = name
        self._clock = clock
        self._count = 0
        self._kind = ""
        self._told_at = 0.0

    def failed(self, error: Exception) -> None:
        self._count += 1
        kind, now = type(error).__qualname__, self._clock()
        if self._count == 1 or kind != self._kind:
            log.error("worker step failed", exc_info=error, extra={"worker": self._name})
        elif now - self._told_at >= FAILING_TOLD_EVERY:
            log.error(
                "worker step still failing",
                extra={"worker": self._name, "failures": self._count, "error": kind},
            )
        else:
            return
        self._kind, self._told_at = kind, now

    def worked(self) -> None:
        if self._count:
            log.info(
                "worker step works again", extra={"worker": self._name, "failures": self._count}
            )
            self._count, self._kind = 0, ""


async def run_loop(
    name: str,
    step: Callable[[], Awaitable[bool]],
    wake: Wakeable,
    *,
    idle: float = 0.5,
    stop: asyncio.Event,
    rush: Rush | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Call ``step`` until ``stop`` is set. It says whether more work may be waiting now (it
    took all it could); if not, sleep ``idle`` or until woken. A wake that came meanwhile is
    kept, so work stored during a step is looked for at once, and a step that drained
    everything costs no second, empty pass beside the work it started. While webhooks pour
    into the process (``rush``), the loop rests after each step."""
    failures = _Failures(name, clock)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            more = await step()
        except Exception as error:
            failures.failed(error)
            more = False
        else:
            failures.worked()
        rest = rush.rest_after(time.perf_counter() - started) if rush is not None else 0.0
        if rest > 0:
            await asyncio.sleep(rest)
        if not more:
            await wake.wait(idle)
