"""Job and inbox claims: what one claim costs as a backlog grows.

A claim follows every commit that queues work, and the worker's loop claims too, so a claim
that grows with the backlog slows the very work that drains it. Fills a fresh database with
finished jobs (the days the retention keeps) and then, step by step, with a backlog of due
Slack posts (ten for each of ``--conversations``, so most wait behind their conversation's
first), and times the real ``SqlJobs.claim`` at each step: a claim for eight jobs a lane, as
a worker with every slot free takes them, rolled back so that each run sees the same backlog.
PostgreSQL analyzes the table at each step, as autovacuum would; SQLite only with
``--analyze`` (the bridge never runs ``ANALYZE``, but an operator may).

With ``--inbox``, the inbox's claim instead: finished webhooks, a thousand new ones, and step
by step more webhooks waiting to be read again in an hour (a status before its send: a flood
of statuses for another app's messages keeps thousands so), timing ``SqlInbox.claim`` for a
batch of twenty, which must reach the new ones.

    .venv/bin/python bench/claim.py [--analyze] [--inbox]
    .venv/bin/python bench/claim.py --database-url postgresql+psycopg://.../fresh_database
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bridge.jobs import Lane, PostCustomerMessage
from bridge.ports import NewWebhook, QueuedJob, UnitOfWork
from storage.db import create_engine, is_sqlite, migrate
from storage.uow import SqlUnitOfWorkFactory

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
LIMITS = dict.fromkeys(Lane, 8)


def _jobs(first: int, count: int, conversations: int) -> list[QueuedJob]:
    return [
        QueuedJob(
            job=PostCustomerMessage(conversation_id=1 + n % conversations, message_id=n),
            seq=NOW,
        )
        for n in range(first, first + count)
    ]


async def _timed(
    factory: SqlUnitOfWorkFactory, claim: Callable[[UnitOfWork], Awaitable[int]], repeats: int
) -> str:
    """``claim`` run ``repeats`` times, each in a transaction rolled back: the median and p90
    in ms, and how much the claim took, as table cells."""
    times: list[float] = []
    claimed = 0
    for _ in range(repeats):
        async with factory() as uow:  # left without commit: rolled back
            started = time.perf_counter()
            claimed = await claim(uow)
            times.append(time.perf_counter() - started)
    ms = sorted(t * 1000 for t in times)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    return f"{statistics.median(ms):.3f} | {p90:.3f} | {claimed}"


async def _run(
    url: str, done: int, backlogs: list[int], conversations: int, repeats: int, analyze: bool
) -> None:
    factory = SqlUnitOfWorkFactory(create_engine(url))
    for first in range(0, done, 10_000):
        async with factory() as uow:
            await uow.jobs.enqueue_many(_jobs(-done + first, min(10_000, done - first), 1), now=NOW)
            await uow.commit()
    async with factory.engine.begin() as connection:
        await connection.execute(text("UPDATE jobs SET state = 'done', finished_at = created_at"))
    queued = 0
    print("| due jobs waiting | claim, median ms | p90 ms | jobs claimed |")
    print("|---|---|---|---|")
    for backlog in backlogs:
        async with factory() as uow:
            await uow.jobs.enqueue_many(_jobs(queued, backlog - queued, conversations), now=NOW)
            await uow.commit()
        queued = backlog
        if analyze or not is_sqlite(url):
            async with factory.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))

        async def claim(uow: UnitOfWork) -> int:
            return len(await uow.jobs.claim(now=NOW, limits=LIMITS, lease=timedelta(seconds=30)))

        print(f"| {backlog:,} | {await _timed(factory, claim, repeats)} |")
    await factory.engine.dispose()


async def _run_inbox(url: str, done: int, backlogs: list[int], repeats: int, analyze: bool) -> None:
    factory = SqlUnitOfWorkFactory(create_engine(url))

    async def store(count: int) -> list[int]:
        ids: list[int] = []
        for first in range(0, count, 10_000):
            async with factory() as uow:
                webhook = NewWebhook(body=b"{}", received_at=NOW)
                ids += await uow.inbox.store_many([webhook] * min(10_000, count - first))
                await uow.commit()
        return ids

    finished = await store(done)
    async with factory() as uow:
        await uow.inbox.done_many(finished, now=NOW)
        await uow.commit()
    waiting = 0
    fresh: list[int] = []
    print("| webhooks waiting to be read again | claim, median ms | p90 ms | new ones claimed |")
    print("|---|---|---|---|")
    for backlog in backlogs:
        ids = await store(backlog - waiting)
        async with factory() as uow:
            later = NOW + timedelta(hours=1)
            await uow.inbox.retry(ids, error="status before its send", not_before=later)
            await uow.inbox.done_many(fresh, now=NOW)  # the last step's new ones: finished
            await uow.commit()
        fresh = await store(1_000)  # new webhooks, behind every waiting one
        waiting = backlog
        if analyze or not is_sqlite(url):
            async with factory.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))

        async def claim_inbox(uow: UnitOfWork) -> int:
            return len(await uow.inbox.claim(now=NOW, limit=20))

        print(f"| {backlog:,} | {await _timed(factory, claim_inbox, repeats)} |")
    await factory.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a fresh database (default: SQLite in a temp dir)")
    parser.add_argument("--done", type=int, default=100_000, help="finished jobs kept")
    parser.add_argument("--backlogs", type=int, nargs="+", default=[0, 500, 2_000, 5_000, 20_000])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--analyze", action="store_true", help="SQLite: ANALYZE at each step")
    parser.add_argument("--inbox", action="store_true", help="the inbox's claim, not the jobs'")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    with tempfile.TemporaryDirectory(prefix="wabridge-claim-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'claim.db'}"
        migrate(url)
        backlogs = sorted(args.backlogs)
        if args.inbox:
            asyncio.run(_run_inbox(url, args.done, backlogs, args.repeats, args.analyze))
        else:
            run = _run(url, args.done, backlogs, args.conversations, args.repeats, args.analyze)
            asyncio.run(run)


if __name__ == "__main__":
    main()
