"""Per-channel pacing: Slack allows about one message per second per channel, with bursts."""

from __future__ import annotations

import asyncio
import time

__all__ = ["ChannelPacer"]


class ChannelPacer:
    """A token bucket per channel: ``burst`` posts at once, then ``rate`` per second."""

    def __init__(self, *, rate: float = 1.0, burst: int = 5) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, channel: str) -> None:
        """Wait until ``channel`` may take one more post."""
        if self._rate <= 0:
            return
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(channel, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1:
                await asyncio.sleep((1 - tokens) / self._rate)
                now = time.monotonic()
                tokens = 1.0
            self._buckets[channel] = (tokens - 1, now)
