"""The job loop: claim due jobs under a lease, run their handlers, record how each ended.

- done;
- retried with capped backoff while its failure is transient, for up to ``retry_for``;
- ``failed`` at once when retrying cannot help, with its reason (replayable);
- given back untouched when its adapter's credentials fail: the lane pauses, the reason
  shows in ``/readyz``, and one probe job at a time checks whether they work again.

Outcomes are recorded only under the claim's lease token, and the lease is extended while
the handler runs; if it cannot be, the handler is cancelled, so a lease that ran out never
leads to a second send or post (see ``JobContext.starting_call``).

While its loop serves, the worker is also this process's ``Handoff``: a transaction that
queues jobs claims what is due for it just before committing, each handler reads what it
needs in that transaction (``JobHandler.prepare``), and the jobs start once it commits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from bridge.domain import FailureKind
from bridge.errors import (
    ChatError,
    DeliveryError,
    ExternalError,
    JobDecodeError,
    JobNotReadyError,
    LeaseLostError,
)
from bridge.jobs import Job, JobFailure, JobHandler, Lane, decode
from bridge.ports import (
    ClaimedJob,
    Clock,
    HandedJobs,
    LanePause,
    UnitOfWork,
    UnitOfWorkFactory,
)
from bridge.workers.claims import Claim, Handed
from bridge.workers.failures import failure_of, retry_delay

__all__ = ["DEFAULT_LEASE", "JobWorker"]

log = logging.getLogger(__name__)

#: How long a claim lasts unless extended; the worker extends it every third of that.
DEFAULT_LEASE: Final = timedelta(seconds=15)
#: A job whose handler raises something unforeseen (a bug, a database blip) gets this many tries.
UNEXPECTED_TRIES: Final = 5
#: How often a paused lane lets one job through to see whether its credentials work again.
PROBE_EVERY: Final = timedelta(seconds=10)
#: How long the worker trusts the lane pauses it read: a pause another process records is
#: honoured here this much later at most (a job claimed meanwhile meets the same refusal and
#: is given back untouched). A due probe, or a pause or lift of its own, reads them at once.
PAUSES_REFRESH: Final = 1.0


#: Jobs of one lane a worker runs at once. A job holds its slot while its call is under way,
#: so a lane moves at most ``SLOTS`` calls per call's latency: with 8, a Slack simulator
#: answering in 40 ms under load capped a process at 200 posts a second (relay p99 2 to 10 s
#: at 200 customer messages a second, against 65 to 102 ms with 32), and Slack's and Meta's
#: own 100 to 300 ms would cap it at 27 to 80 calls a second. Order needs no fewer: the claim
#: gives out only the head of each conversation's lane.
SLOTS: Final = 32


def _lane_of(error: BaseException) -> Lane | None:
    """Whose calls failed: Slack's or Meta's (None: neither said)."""
    if isinstance(error, ChatError):
        return Lane.SLACK
    if isinstance(error, DeliveryError):
        return Lane.WHATSAPP
    return None


class JobWorker:
    """Claims due jobs and runs their handlers, recording each outcome under its lease.

    Each lane has ``concurrency`` slots of its own, so Slack posts waiting on Slack's pace
    never keep a WhatsApp send from starting, and the other way round.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        handlers: Mapping[type[Job], JobHandler[Any]],
        clock: Clock,
        retry_for: timedelta,
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = SLOTS,
        probe_every: timedelta = PROBE_EVERY,
        lanes: Collection[Lane] = tuple(Lane),
        on_slot_free: Callable[[], None] = lambda: None,
        on_handed: Callable[[bool], None] = lambda covered: None,
    ) -> None:
        self._uow = uow
        self._handlers = handlers
        self._clock = clock
        self._retry_for = retry_for
        self._lease = lease
        self._concurrency = concurrency
        self._probe_every = probe_every
        self._lanes = tuple(lanes)
        self._on_slot_free = on_slot_free
        self._on_handed = on_handed
        self._paused: set[Lane] = set()
        self._pauses: dict[Lane, LanePause] = {}
        self._pauses_read_at: float | None = None
        self._running: dict[Lane, set[asyncio.Task[None]]] = {lane: set() for lane in Lane}
        #: Slots promised to jobs claimed in a transaction that has not committed yet.
        self._handing: Counter[Lane] = Counter()
        #: Whether this worker's loop runs in this process (``Workers.run``): only then does it
        #: take the jobs other transactions queue as they commit.
        self.serving = False

    @property
    def running(self) -> int:
        return sum(len(tasks) for tasks in self._running.values())

    def _free(self, lane: Lane) -> int:
        return self._concurrency - len(self._running[lane]) - self._handing[lane]

    async def claim(self, uow: UnitOfWork) -> HandedJobs | None:
        """``Handoff``: claim the jobs due now for this worker's free slots, in ``uow``'s
        transaction, just before it commits; each handler prepares in it what it can. A paused
        lane's jobs are left to the loop's probes."""
        if not self.serving:
            return None
        now = self._clock.now()
        pauses = await self._read_pauses(uow, now)
        limits = {
            lane: free
            for lane in self._lanes
            if lane not in pauses and (free := self._free(lane)) > 0
        }
        if not limits:
            self._on_handed(False)
            return None
        self._handing.update(limits)
        try:
            claims = await uow.jobs.claim(now=now, limits=limits, lease=self._lease)
            prepared = [await self._prepare(uow, claimed) for claimed in claims]
        except BaseException:
            self._handing.subtract(limits)
            raise
        return Handed(functools.partial(self._settle_handoff, limits, prepared))

    def _settle_handoff(
        self, limits: dict[Lane, int], claims: list[Claim], committed: bool
    ) -> None:
        self._handing.subtract(limits)
        if not committed:
            self._on_handed(False)
            return  # rolled back with the transaction: the jobs are as they were
        for ctx in claims:
            self._start(ctx)
        taken = Counter(ctx.claimed.lane for ctx in claims)
        # A lane that took all it could may have more due (and a paused lane's jobs are
        # its probes'): the loop looks. Otherwise every job due is running.
        full = any(taken[lane] == free for lane, free in limits.items())
        self._on_handed(not full and len(limits) == len(self._lanes))
        if full:
            self._on_slot_free()

    async def _prepare(self, uow: UnitOfWork, claimed: ClaimedJob) -> Claim:
        ctx = self._context(claimed)
        try:
            job = decode(claimed.job_type, claimed.payload)
            handler = self._handlers.get(type(job))
            if handler is not None:
                ctx.prepared = await handler.prepare(uow, job, ctx)
        except JobDecodeError:
            pass  # the job runs as usual, and fails there, saying why
        except Exception:
            # The handler reads for itself when it runs; a statement that failed on
            # PostgreSQL also fails this commit, and whoever committed says so.
            log.warning("job not prepared; it reads for itself", extra=ctx.ids, exc_info=True)
            ctx.prepared = None
        return ctx

    def _context(self, claimed: ClaimedJob) -> Claim:
        ids = {
            "job_id": claimed.id,
            "job_type": claimed.job_type,
            "conversation_id": claimed.conversation_id,
            # The message the job is about, when it is about one: every line can be traced.
            "message_id": claimed.payload.get("message_id"),
            "attempt": claimed.attempt,
        }
        return Claim(claimed=claimed, uow=self._uow, clock=self._clock, ids=ids)

    async def run_once(self) -> int:
        """Claim due jobs for the free slots of each lane, run them, and return how many,
        once they have ended (tests drive the worker so)."""
        started, _ = await self._claim_and_start()
        if started:
            await asyncio.gather(*started)
        return len(started)

    async def step(self) -> bool:
        """One pass of the serving loop: claim due jobs and start them without waiting (a
        job that ends frees its slot and wakes the loop). Whether more may be due now: some
        lane's free slots were all taken."""
        _, more = await self._claim_and_start()
        return more

    async def _claim_and_start(self) -> tuple[list[asyncio.Task[None]], bool]:
        now = self._clock.now()
        claims: list[ClaimedJob] = []
        async with self._uow() as uow:
            pauses = await self._read_pauses(uow, now)
            limits: dict[Lane, int] = {}
            for lane in self._lanes:
                free = self._free(lane)
                if free <= 0:
                    continue
                if lane in pauses:
                    if pauses[lane].probe_after > now:
                        continue
                    # One job at a time finds out whether the credentials work again.
                    free = 1
                    probe_after = now + self._probe_every
                    await uow.pauses.postpone_probe(lane, probe_after=probe_after)
                    pauses[lane] = dataclasses.replace(pauses[lane], probe_after=probe_after)
                limits[lane] = free
            if limits:
                claims = await uow.jobs.claim(now=now, limits=limits, lease=self._lease)
                await uow.commit()
        taken = Counter(claim.lane for claim in claims)
        more = any(taken[lane] == free for lane, free in limits.items())
        self._paused = set(pauses)
        return [self._start(self._context(claim)) for claim in claims], more

    async def _read_pauses(self, uow: UnitOfWork, now: datetime) -> dict[Lane, LanePause]:
        """The lanes paused: read again once ``PAUSES_REFRESH`` old, or when a probe is
        due (in the claim's transaction, so that one process probes)."""
        read_at = self._pauses_read_at
        if (
            read_at is None
            or time.monotonic() - read_at >= PAUSES_REFRESH
            or any(pause.probe_after <= now for pause in self._pauses.values())
        ):
            self._pauses = {p.lane: p for p in await uow.pauses.active()}
            self._pauses_read_at = time.monotonic()
        return self._pauses

    def _start(self, ctx: Claim) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(ctx))
        slots = self._running[ctx.claimed.lane]
        slots.add(task)

        def ended(_: asyncio.Task[None]) -> None:
            slots.discard(task)
            self._on_slot_free()

        task.add_done_callback(ended)
        return task

    async def wind_down(self) -> None:
        """Wait for the running jobs to end; if this is cancelled, cancel them too (their
        leases run out and another worker takes them over)."""
        tasks = [task for slots in self._running.values() for task in slots]
        if not tasks:
            return
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise

    async def _run(self, ctx: Claim) -> None:
        try:
            await self._perform(ctx)
        except Exception:
            # Most likely the database went away while the outcome was recorded. The lease
            # runs out and the job is claimed again: nothing is lost, and this says why.
            log.exception(
                "job outcome not recorded; it runs again when its lease ends", extra=ctx.ids
            )

    async def _perform(self, ctx: Claim) -> None:
        claimed, ids = ctx.claimed, ctx.ids
        try:
            job = decode(claimed.job_type, claimed.payload)
            handler = self._handlers[type(job)]
        except (JobDecodeError, KeyError) as error:
            failure = JobFailure(
                job_id=claimed.id,
                at=self._clock.now(),
                kind=FailureKind.PERMANENT,
                reason="undecodable",
                error=str(error),
            )
            await self._end(claimed, None, None, failure, ids)
            return
        work = asyncio.create_task(handler.run(job, ctx))
        beat = asyncio.create_task(self._keep_lease(ctx, work))
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError:  # shutting down: the lease runs out, the job returns
            work.cancel()
            raise
        finally:
            beat.cancel()
        raised = None if work.cancelled() else work.exception()
        if ctx.lost or work.cancelled() or isinstance(raised, LeaseLostError):
            log.warning("job lease lost; its next holder decides", extra=ids)
            return
        if raised is None:
            await self._succeeded(claimed, ctx, ids)
        else:
            await self._failed(claimed, job, handler, raised, ids)

    async def _keep_lease(self, ctx: Claim, work: asyncio.Task[None]) -> None:
        """Extend the lease while the handler runs; cancel it before the lease can run out."""
        interval = self._lease.total_seconds() / 3
        valid_until = time.monotonic() + self._lease.total_seconds()
        while not work.done():
            await asyncio.sleep(interval)
            try:
                async with self._uow() as uow:
                    held = await uow.jobs.extend(
                        ctx.claimed.id,
                        ctx.claimed.lease_token,
                        until=self._clock.now() + self._lease,
                    )
                    await uow.commit()
                if held:
                    valid_until = time.monotonic() + self._lease.total_seconds()
            except Exception:
                log.warning("job lease not extended", extra=ctx.ids, exc_info=True)
                held = time.monotonic() + interval < valid_until
            if not held:
                ctx.lost = True
                work.cancel()
                return

    async def _succeeded(self, claimed: ClaimedJob, ctx: Claim, ids: dict[str, Any]) -> None:
        if not ctx.finished:
            async with self._uow() as uow:
                done = await uow.jobs.finish(claimed.id, claimed.lease_token, now=self._clock.now())
                await uow.commit()
            if not done:
                log.warning("job lease lost before done was recorded", extra=ids)
        await self._lift_pause(claimed.lane)

    async def _lift_pause(self, lane: Lane) -> None:
        if lane not in self._paused:
            return
        async with self._uow() as uow:
            lifted = await uow.pauses.lift(lane)
            await uow.commit()
        if lifted:
            log.warning("%s work resumed", lane.value, extra={"lane": lane})
        self._paused.discard(lane)
        self._pauses_read_at = None

    async def _failed(
        self,
        claimed: ClaimedJob,
        job: Job,
        handler: JobHandler[Any],
        error: BaseException,
        ids: dict[str, Any],
    ) -> None:
        now = self._clock.now()
        failure = failure_of(error, job_id=claimed.id, now=now)
        # Whether the calls that failed are the lane's own (a customer's file is Slack-lane
        # work that fetches from Meta first).
        own = _lane_of(error) in (None, claimed.lane)
        if failure.kind == FailureKind.AUTH:
            if own:
                await self._pause(claimed, failure, ids)
                return
            # The other side's credentials: pausing this lane would hold up work that does
            # not need them. The job waits alone; the other lane's own jobs pause it if need be.
            failure = dataclasses.replace(failure, kind=FailureKind.TRANSIENT)
        if isinstance(error, ExternalError) and own:
            # The lane's side answered, and not about credentials: they work again.
            await self._lift_pause(claimed.lane)
        if not failure.kind.retryable:
            await self._end(claimed, job, handler, failure, ids)
            return
        failing_since = claimed.failing_since or now
        unexpected = not isinstance(error, ExternalError | JobNotReadyError)
        if now - failing_since >= self._retry_for or (
            unexpected and claimed.attempt >= UNEXPECTED_TRIES
        ):
            limit = f"{UNEXPECTED_TRIES} tries" if unexpected else f"retrying for {self._retry_for}"
            gave_up = dataclasses.replace(failure, error=f"gave up after {limit}: {failure.error}")
            await self._end(claimed, job, handler, gave_up, ids)
            return
        delay = retry_delay(error, claimed.attempt)
        async with self._uow() as uow:
            recorded = await uow.jobs.retry(
                claimed.id,
                claimed.lease_token,
                not_before=now + timedelta(seconds=delay),
                failing_since=failing_since,
                reason=failure.reason,
                error=failure.error,
            )
            if recorded:
                await handler.delayed(uow, job, failure, attempt=claimed.attempt)
            await uow.commit()
        if not recorded:
            log.warning("job lease lost before its retry was recorded", extra=ids)
            return
        log.warning(
            "job will be retried",
            extra={**ids, "reason": failure.reason, "retry_in": round(delay, 2)},
        )

    async def _pause(self, claimed: ClaimedJob, failure: JobFailure, ids: dict[str, Any]) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.jobs.release(
                claimed.id, claimed.lease_token, not_before=now + self._probe_every
            )
            paused = await uow.pauses.pause(
                claimed.lane,
                reason=f"{failure.reason}: {failure.error}",
                now=now,
                probe_after=now + self._probe_every,
            )
            await uow.commit()
        self._pauses_read_at = None
        if paused:
            # Once, not per job: the pause row says the rest until a probe succeeds.
            log.error(
                "%s work paused: its credentials were refused. Nothing is discarded; work "
                "resumes by itself once a call succeeds",
                claimed.lane.value,
                extra={**ids, "lane": claimed.lane, "reason": failure.reason},
            )

    async def _end(
        self,
        claimed: ClaimedJob,
        job: Job | None,
        handler: JobHandler[Any] | None,
        failure: JobFailure,
        ids: dict[str, Any],
    ) -> None:
        """Record the job ``failed`` and let its handler make that visible, atomically."""
        recorded = await self._record_failed(claimed, job, handler, failure, ids)
        if recorded is None and handler is not None:
            # The handler's own reaction failed; the job must still end.
            recorded = await self._record_failed(claimed, None, None, failure, ids)
        if not recorded:
            log.warning("job lease lost before its failure was recorded", extra=ids)
            return
        log.warning(
            "job failed; replay it with wabridge deadletters",
            extra={**ids, "reason": failure.reason, "error": failure.error},
        )

    async def _record_failed(
        self,
        claimed: ClaimedJob,
        job: Job | None,
        handler: JobHandler[Any] | None,
        failure: JobFailure,
        ids: dict[str, Any],
    ) -> bool | None:
        try:
            async with self._uow() as uow:
                recorded = await uow.jobs.fail(
                    claimed.id,
                    claimed.lease_token,
                    now=failure.at,
                    reason=failure.reason,
                    error=failure.error,
                )
                if recorded and handler is not None and job is not None:
                    await handler.failed(uow, job, failure)
                await uow.commit()
            return recorded
        except Exception:
            if handler is None:
                raise
            log.exception("job failure handling failed", extra=ids)
            return None
