"""A job held under a lease, as its handler sees it (``JobContext``), and the jobs a
transaction claimed for this process's worker before it committed (``HandedJobs``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from bridge.errors import LeaseLostError
from bridge.ports import ClaimedJob, Clock, UnitOfWork, UnitOfWorkFactory

__all__ = ["HANDED_TURNS", "Claim", "Handed"]

#: Turns of the event loop a commit that handed jobs over lets them take before it returns.
HANDED_TURNS: Final = 8


@dataclass(kw_only=True)
class Claim:
    """One job held under a lease: the ``JobContext`` its handler receives."""

    claimed: ClaimedJob
    uow: UnitOfWorkFactory
    clock: Clock
    lost: bool = False
    finished: bool = False
    ids: dict[str, Any] = field(default_factory=dict)
    prepared: object | None = None

    @property
    def job_id(self) -> int:
        return self.claimed.id

    @property
    def uid(self) -> str:
        return self.claimed.uid

    @property
    def attempt(self) -> int:
        return self.claimed.attempt

    @property
    def queued_at(self) -> datetime:
        return self.claimed.queued_at

    @property
    def call_started(self) -> bool:
        return self.claimed.call_started

    async def starting_call(self, uow: UnitOfWork | None = None) -> None:
        """Record, under the lease, that the job's call is about to start: in ``uow`` (the
        caller commits it) or alone in a transaction of its own."""
        if uow is not None:
            marked = await uow.jobs.mark_call_started(self.claimed.id, self.claimed.lease_token)
        else:
            async with self.uow() as own:
                marked = await own.jobs.mark_call_started(self.claimed.id, self.claimed.lease_token)
                await own.commit()
        if not marked:
            raise LeaseLostError(f"job {self.claimed.id}: lease lost before its call")

    async def finish(self, uow: UnitOfWork) -> bool:
        done = await uow.jobs.finish(
            self.claimed.id, self.claimed.lease_token, now=self.clock.now()
        )
        self.finished = True
        if not done:
            self.lost = True
        return done


@dataclass
class Handed:
    """Jobs claimed in a transaction not committed yet (``HandedJobs``): ``settle`` is told
    once whether it committed."""

    settle: Callable[[bool], None]
    settled: bool = False

    async def start(self) -> None:
        if not self.settled:
            self.settled = True
            self.settle(True)
            # A few turns of the loop: each job's task starts its handler's task, which runs
            # up to its call to Slack or Meta and through the client's own yields (httpx's
            # locks yield the loop four times before a request is written). The work that
            # committed (a Slack event's ack, the next inbox batch) waits that long, not
            # the customer's message or the agent's reply.
            for _ in range(HANDED_TURNS):
                await asyncio.sleep(0)

    def drop(self) -> None:
        if not self.settled:
            self.settled = True
            self.settle(False)
