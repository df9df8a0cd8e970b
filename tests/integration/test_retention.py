"""Data lifecycle: bookkeeping older than the retention is purged, in bounded batches, and
nothing else is touched."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from types import TracebackType
from typing import Any

import pytest
from sqlalchemy import text

from bridge.jobs import Lane, ShowWindow
from bridge.ports import UnitOfWork
from bridge.usecases.retention import Purged, Retention
from bridge.usecases.schedule import Slots
from scheduler.jobs.retention import retention_purge
from storage.models import Base
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0
from tests.integration.world import World

KEEP = timedelta(days=30)
FAR = timedelta(days=3650)
HOUR = timedelta(hours=1)

#: The tables the purge must never change, read whole.
KEPT_TABLES = ("contacts", "conversations", "messages", "business_numbers", "message_templates")


async def _rows(world: World, query: str) -> list[tuple[Any, ...]]:
    async with world.uow.engine.connect() as connection:
        return [tuple(r) for r in await connection.execute(text(query))]


async def _job(world: World, conversation_id: int, *, ends: str | None) -> int:
    """A job queued now that ends ``done``, ``failed``, or (None) stays pending, not yet due."""
    now = world.clock.now()
    async with world.uow() as uow:
        job_id = await uow.jobs.enqueue(
            ShowWindow(conversation_id=conversation_id),
            now=now,
            not_before=now if ends else now + FAR,
        )
        await uow.commit()
    if ends is None:
        return job_id
    async with world.uow() as uow:
        claimed = await uow.jobs.claim(
            now=now, limits=dict.fromkeys(Lane, 100), lease=timedelta(minutes=1)
        )
        [job] = [c for c in claimed if c.id == job_id]
        if ends == "done":
            assert await uow.jobs.finish(job.id, job.lease_token, now=now)
        else:
            assert await uow.jobs.fail(job.id, job.lease_token, now=now, reason="r", error="e")
        await uow.commit()
    return job_id


async def _generation(world: World, tag: str) -> dict[str, int]:
    """At the clock's time: a customer message taken all the way through (a processed webhook,
    done jobs, the message, the conversation), and one row of every other kind: a dead
    webhook, a failed and a pending job, a Slack event id, a window mark, a scheduled run's
    claim. Returns the ids of the rows the test follows."""
    at = world.clock.now()
    await world.webhook(payloads.messages(payloads.text(f"wamid.{tag}", "hello", at=at)))
    await world.drain()
    [(conversation_id,)] = await _rows(world, "SELECT id FROM conversations")
    ids = {
        "failed_job": await _job(world, conversation_id, ends="failed"),
        "pending_job": await _job(world, conversation_id, ends=None),
    }
    async with world.uow() as uow:
        ids["dead_webhook"] = await uow.inbox.store(
            b"not json", received_at=at, dead_reason="unparseable"
        )
        assert await uow.slack_events.remember(f"Ev{tag}", now=at)
        assert await uow.schedule.reach_mark(
            conversation_id,
            window_expires_at=at + timedelta(hours=24),
            mark_seconds=0,
            now=at + timedelta(hours=24),
        )
        assert await uow.schedule.claim_run(tag, slot=1, now=at)
        await uow.commit()
    return ids


async def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    snapshot = {}
    async with world.uow.engine.connect() as connection:
        for name in KEPT_TABLES:
            table = Base.metadata.tables[name]
            rows = await connection.execute(table.select().order_by(*table.primary_key))
            snapshot[name] = [tuple(r) for r in rows]
    return snapshot


async def test_only_old_finished_bookkeeping_is_purged(world: World) -> None:
    old = await _generation(world, "old")  # at T0
    async with world.uow() as uow:
        await uow.counters.add("statuses_unknown", 5)
        await uow.commit()
    old_done_jobs = await _rows(world, "SELECT id FROM jobs WHERE state = 'done'")
    assert old_done_jobs  # the old message's post, at least
    world.clock.advance(days=40)
    new = await _generation(world, "new")  # 40 days later: within the retention
    async with world.uow() as uow:  # webhooks not processed yet (no worker runs from now on)
        old["pending_webhook"] = await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
        await uow.inbox.store(b"{}", received_at=world.clock.now(), dead_reason=None)
        await uow.commit()
    kept_before = await _snapshot(world)

    purged = await Retention(uow=world.uow, clock=world.clock, keep=KEEP).purge()

    assert purged == {
        Purged.WEBHOOKS: 1,
        Purged.JOBS: len(old_done_jobs),
        Purged.SLACK_EVENTS: 1,
        Purged.WINDOW_MARKS: 1,
        Purged.SCHEDULED_RUNS: 1,
    }
    # Messages, conversations, contacts, numbers and templates are exactly as they were.
    assert await _snapshot(world) == kept_before
    assert len(kept_before["messages"]) == 2
    # Webhooks: the old processed one is gone; dead letters and pending ones stay, old or new.
    webhooks = await _rows(world, "SELECT id, state FROM webhook_inbox ORDER BY id")
    assert {i for i, _ in webhooks} >= {old["dead_webhook"], old["pending_webhook"]}
    assert [s for _, s in webhooks].count("done") == 1  # the new one
    assert sorted(s for _, s in webhooks) == ["done", "failed", "failed", "pending", "pending"]
    # Jobs: none of the old done ones; old failed (replayable) and pending ones stay.
    jobs = dict(await _rows(world, "SELECT id, state FROM jobs"))
    assert not set(jobs) & {i for (i,) in old_done_jobs}
    assert jobs[old["failed_job"]] == "failed" and jobs[old["pending_job"]] == "pending"
    assert jobs[new["failed_job"]] == "failed" and jobs[new["pending_job"]] == "pending"
    assert "done" in jobs.values()  # the new message's
    assert await _rows(world, "SELECT event_id FROM slack_events") == [("Evnew",)]
    assert await _rows(world, "SELECT job FROM scheduled_runs") == [("new",)]
    [(expires,)] = await _rows(world, "SELECT window_expires_at FROM window_marks")
    assert str(expires).startswith(str((T0 + timedelta(days=41)).date()))
    # Counters keep their totals, and add what was purged.
    counters = dict(await _rows(world, "SELECT name, value FROM counters"))
    assert counters["statuses_unknown"] == 5
    assert counters["purged_jobs"] == len(old_done_jobs)
    # An old dead letter is still replayable.
    async with world.uow() as uow:
        assert await uow.jobs.replay(old["failed_job"], now=world.clock.now())
        assert await uow.inbox.replay(old["dead_webhook"], now=world.clock.now())
        await uow.commit()
    # A second purge finds nothing more.
    again = await Retention(uow=world.uow, clock=world.clock, keep=KEEP).purge()
    assert set(again.values()) == {0}


async def test_a_short_retention_keeps_what_the_scheduling_still_reads(world: World) -> None:
    await _generation(world, "old")  # a window that ended at T0 + 24 h, a run claimed at T0
    world.clock.advance(hours=30)  # that window closed 6 h ago
    async with world.uow() as uow:
        assert await uow.schedule.claim_run("recent", slot=2, now=world.clock.now() - HOUR * 2)
        await uow.commit()
    short = Retention(uow=world.uow, clock=world.clock, keep=HOUR)

    purged = await short.purge()

    # Processed webhooks, done jobs and event ids go after an hour...
    assert purged[Purged.WEBHOOKS] == 1 and purged[Purged.JOBS] >= 1
    assert purged[Purged.SLACK_EVENTS] == 1
    # ...but the closed-window scan looks a day back, and a run's slot may last that long.
    assert purged[Purged.WINDOW_MARKS] == 0
    assert purged[Purged.SCHEDULED_RUNS] == 1
    assert await _rows(world, "SELECT job FROM scheduled_runs") == [("recent",)]
    world.clock.advance(days=1)
    purged = await short.purge()
    assert purged[Purged.WINDOW_MARKS] == purged[Purged.SCHEDULED_RUNS] == 1


class _CountingRetention:
    """A retention repository that records what each call deleted."""

    def __init__(self, inner: Any, calls: list[tuple[str, int]]) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def call(**kwargs: Any) -> int:
            deleted: int = await method(**kwargs)
            assert deleted <= kwargs["limit"]
            self._calls.append((name, deleted))
            return deleted

        return call


class _CountingUnitOfWork:
    """A unit of work whose purges are recorded; it checks it ran one batch at most."""

    def __init__(self, inner: UnitOfWork, calls: list[tuple[str, int]]) -> None:
        self._inner = inner
        self._calls = calls
        self._before = 0

    async def __aenter__(self) -> UnitOfWork:
        uow = await self._inner.__aenter__()
        uow.retention = _CountingRetention(uow.retention, self._calls)  # type: ignore[misc]
        self._before = len(self._calls)
        return uow

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert len(self._calls) - self._before <= 1  # one batch per transaction
        await self._inner.__aexit__(exc_type, exc, tb)


class _CountingFactory:
    def __init__(self, inner: SqlUnitOfWorkFactory) -> None:
        self._inner = inner
        self.calls: list[tuple[str, int]] = []

    def __call__(self) -> Any:
        return _CountingUnitOfWork(self._inner(), self.calls)


async def test_more_rows_than_a_batch_are_purged_a_bounded_batch_per_transaction(
    world: World,
) -> None:
    async with world.uow() as uow:
        for n in range(25):
            await uow.slack_events.remember(f"Ev{n:03d}", now=T0)
        await uow.commit()
    await world.webhook(payloads.messages(payloads.text("wamid.1", "hello", at=T0)))
    await world.drain()
    [(conversation_id,)] = await _rows(world, "SELECT id FROM conversations")
    for _ in range(21):
        await _job(world, conversation_id, ends="done")
    [(done_jobs,)] = await _rows(world, "SELECT count(*) FROM jobs WHERE state = 'done'")
    world.clock.advance(days=31)
    await _generation(world, "new")
    counting = _CountingFactory(world.uow)

    purged = await Retention(uow=counting, clock=world.clock, keep=KEEP, batch=7).purge()

    calls = counting.calls

    assert purged[Purged.SLACK_EVENTS] == 25 and purged[Purged.JOBS] == done_jobs
    events = [n for name, n in calls if name == "purge_slack_events"]
    assert events == [7, 7, 7, 4]  # a short batch ends the loop
    jobs = [n for name, n in calls if name == "purge_finished_jobs"]
    assert sum(jobs) == done_jobs and all(n == 7 for n in jobs[:-1]) and jobs[-1] < 7
    assert await _rows(world, "SELECT event_id FROM slack_events") == [("Evnew",)]
    assert await _rows(world, "SELECT count(*) FROM jobs WHERE state = 'done'") != [(0,)]
    assert len(await _rows(world, "SELECT id FROM messages")) == 2


async def test_one_scheduler_process_purges_per_hour(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await _generation(world, "old")
    world.clock.advance(days=31)
    slots = Slots(uow=world.uow, clock=world.clock)
    retention = Retention(uow=world.uow, clock=world.clock, keep=KEEP)
    first, second = retention_purge(retention, slots), retention_purge(retention, slots)
    with caplog.at_level(logging.INFO, logger="bridge.usecases.retention"):
        await first.run()
        await second.run()  # another process, the same hour: it skips the slot
    [line] = [r for r in caplog.records if r.getMessage() == "retention purge"]
    assert line.purged_webhooks == 1
    assert line.purged_slack_events == 1
    world.clock.advance(hours=1)
    with caplog.at_level(logging.INFO, logger="bridge.usecases.retention"):
        await second.run()  # the next hour's run: one more line, nothing left to purge
    lines = [r for r in caplog.records if r.getMessage() == "retention purge"]
    assert len(lines) == 2 and lines[1].purged_webhooks == 0


@pytest.mark.skipif(not USE_POSTGRES, reason="row locks across processes are PostgreSQL's job")
async def test_a_purge_skips_rows_another_transaction_holds(world: World) -> None:
    async with world.uow() as uow:
        for n in range(3):
            await uow.slack_events.remember(f"Ev{n}", now=T0)
        await uow.commit()
    world.clock.advance(days=31)
    retention = Retention(uow=world.uow, clock=world.clock, keep=KEEP)
    async with world.uow.engine.connect() as other:  # another purge, or any other writer
        await other.execute(text("SELECT 1 FROM slack_events WHERE event_id = 'Ev1' FOR UPDATE"))
        # Not waiting for the lock: a purge that waited would hit the timeout and fail.
        purged = await asyncio.wait_for(retention.purge(), timeout=30)
        assert purged[Purged.SLACK_EVENTS] == 2
        await other.rollback()
    assert (await retention.purge())[Purged.SLACK_EVENTS] == 1  # the next run takes it
