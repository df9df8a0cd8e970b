"""Token buckets: a steady rate with short bursts, and waiting for one's turn.

Pacing lives in each process's memory and is an optimisation: it keeps calls near the other
side's documented rates so that they seldom refuse. What makes every process honour a limit
the other side *reported* (a Slack ``429`` with ``Retry-After``, Meta's throughput error) is
the stored hold (``bridge.ports.Holds``), which all processes read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["UNPACED", "Pacer", "Rate", "TokenBucket"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """``per_second`` calls on average, up to ``burst`` at once; ``per_second`` 0 is unpaced."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second < 0 or self.burst < 1:
            raise ValueError("a rate is zero or more per second, with a burst of at least 1")

    @property
    def paced(self) -> bool:
        return self.per_second > 0

    @classmethod
    def per_minute(cls, count: float, *, burst: int = 1) -> Rate:
        return cls(per_second=count / 60, burst=burst)


#: No pacing at all.
UNPACED: Final = Rate(per_second=0)


class TokenBucket:
    """Holds up to ``rate.burst`` tokens and gains ``rate.per_second``; time is a parameter.

    A token may be taken before it exists: the bucket goes into debt and the taker is told
    how long to wait, so callers that come one after another are served in that order
    without any lock.
    """

    def __init__(self, rate: Rate, *, now: float) -> None:
        self._rate = rate
        self._tokens = float(rate.burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            gained = (now - self._at) * self._rate.per_second
            self._tokens = min(float(self._rate.burst), self._tokens + gained)
            self._at = now

    def reserve(self, now: float) -> float:
        """Take one token; the seconds to wait before using it (0.0: at once)."""
        if not self._rate.paced:
            return 0.0
        self._refill(now)
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate.per_second

    def full(self, now: float) -> bool:
        """Whether the bucket is back to its whole burst (forgetting it changes nothing)."""
        self._refill(now)
        return self._tokens >= self._rate.burst


class Pacer:
    """Token buckets by key (a channel, a method's tier, a business number, a recipient),
    each created with its rate on first use.

    ``wait`` takes a token from every bucket it names and sleeps until all of them allow
    the call. The clock and the sleep are parameters, so tests never sleep.
    """

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_keys: int = 10_000,
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    @property
    def held(self) -> frozenset[str]:
        """The keys whose buckets this pacer holds (idle ones are forgotten past
        ``max_keys``)."""
        return frozenset(self._buckets)

    def reserve(self, *wants: tuple[str, Rate]) -> float:
        """Take a token from each ``(key, rate)`` bucket; the seconds until all allow it."""
        now = self._monotonic()
        delay = 0.0
        for key, rate in wants:
            if not rate.paced:
                continue
            bucket = self._buckets.get(key)
            if bucket is None:
                self._forget_idle(now)
                bucket = self._buckets[key] = TokenBucket(rate, now=now)
            delay = max(delay, bucket.reserve(now))
        return delay

    async def wait(self, *wants: tuple[str, Rate]) -> float:
        """Wait for a token of each bucket named; how long that took, in seconds."""
        delay = self.reserve(*wants)
        if delay > 0:
            await self._sleep(delay)
        return delay

    def _forget_idle(self, now: float) -> None:
        # One bucket per recipient would grow without end; a full bucket holds nothing.
        if len(self._buckets) < self._max_keys:
            return
        for key in [k for k, bucket in self._buckets.items() if bucket.full(now)]:
            del self._buckets[key]
