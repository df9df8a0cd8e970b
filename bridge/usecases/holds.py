"""Rate limits the other side reported, stored so that every process honours them.

When Slack answers ``429`` with ``Retry-After`` (or Meta says a number sends too fast), the
adapter that was refused stores a hold on that kind of call: a Slack method, a channel's
posts, a business number's sends. Every process reads the holds (``StoredHolds``, each
process's cached view, read again every ``refresh``, in the background once a call finds it
in its second half) before such a call, and a call that is
held is not made: its job is retried when the hold ends. A hold is never in memory only,
so a second worker process never runs into a limit the first one was told about.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Final

from bridge.ports import Clock, UnitOfWorkFactory

__all__ = ["HOLDS_REFRESH", "StoredHolds"]

log = logging.getLogger(__name__)

#: How long a process trusts what it read of the holds: a hold set elsewhere reaches it within
#: this, and a call made meanwhile is at worst refused again (and holds again).
HOLDS_REFRESH: Final = timedelta(seconds=1)
#: A hold's reason is kept this short (it labels logs).
_REASON: Final = 64


class StoredHolds:
    """Satisfies ``bridge.ports.Holds`` over the ``rate_holds`` table."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, refresh: timedelta = HOLDS_REFRESH
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._refresh = refresh
        self._until: dict[str, datetime] = {}
        self._fresh_until: datetime | None = None
        # Calls that find the view stale together wait for one read, not one read each.
        self._reading = asyncio.Lock()
        #: The read started ahead of time, in the background (``remaining``).
        self._ahead: asyncio.Task[None] | None = None

    async def read_ahead(self) -> bool:
        """Whether a read started ahead of time (``remaining``) was under way; it has ended
        when this returns."""
        ahead = self._ahead
        if ahead is None:
            return False
        await asyncio.shield(ahead)
        return True

    def _stale(self, now: datetime) -> bool:
        return self._fresh_until is None or now >= self._fresh_until

    async def remaining(self, *scopes: str) -> float:
        now = self._clock.now()
        if self._stale(now):
            async with self._reading:
                if self._stale(now):
                    await self._read(now)
        elif (
            self._ahead is None
            and self._fresh_until is not None
            and now >= self._fresh_until - self._refresh / 2
        ):
            # Read again before the view goes stale, beside this call rather than in front
            # of a later one: a steady flow of calls never waits for a read.
            self._ahead = asyncio.create_task(self._read_ahead(now))
        ends = [self._until[scope] for scope in scopes if scope in self._until]
        if not ends:
            return 0.0
        return max(0.0, (max(ends) - now).total_seconds())

    async def hold(self, scope: str, *, seconds: float, reason: str) -> None:
        now = self._clock.now()
        until = now + timedelta(seconds=max(0.0, seconds))
        if until > self._until.get(scope, now):
            self._until[scope] = until
        try:
            async with self._uow() as uow:
                await uow.holds.hold(scope, until=until, reason=reason[:_REASON], now=now)
                await uow.commit()
        except Exception:
            # The refusal itself must still reach the job (it is retried after the delay);
            # this process honours the hold from memory, and the others learn of it from
            # the next refusal.
            log.warning("rate hold not stored", extra={"scope": scope}, exc_info=True)
            return
        log.info("rate hold stored", extra={"scope": scope, "seconds": round(seconds, 2)})

    async def _read_ahead(self, now: datetime) -> None:
        try:
            async with self._reading:
                await self._read(now)
        except Exception:
            # The view goes stale as usual, and the call that finds it so reads it again.
            log.warning("rate holds not read ahead", exc_info=True)
        finally:
            self._ahead = None

    async def _read(self, now: datetime) -> None:
        async with self._uow() as uow:
            holds = await uow.holds.active(now=now)
        # What this process stored itself a moment ago stays, even if the read missed it.
        self._until = {s: u for s, u in self._until.items() if u > now}
        for hold in holds:
            if hold.until > self._until.get(hold.scope, now):
                self._until[hold.scope] = hold.until
        self._fresh_until = now + self._refresh
