"""Window scan: how long one scan of the windows about to close takes, over many open ones.

Fills a database with N open conversations whose windows end evenly over the next 24 hours,
then times the scan ``wabridge serve`` runs every ``WABRIDGE_SCAN_INTERVAL``:

- the first scan, which finds every window already inside a warning mark (2 h and 30 min:
  about a twelfth of them) and queues a warning for each;
- a steady scan a minute later, which finds only the windows that crossed a mark since
  (about N / 1440 per mark), as every scan does in service;
- an idle scan right after, which finds nothing new.

    .venv/bin/python bench/window_scan.py --conversations 100000 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bridge.usecases.warnings import WindowWatch
from storage.db import create_engine, migrate
from storage.models import BusinessNumber, Contact, Conversation
from storage.uow import SqlUnitOfWorkFactory

MARKS = (timedelta(hours=2), timedelta(minutes=30))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


async def _fill(url: str, count: int, now: datetime) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(BusinessNumber).values(
                id=1,
                phone_number_id="1000000001",
                display_phone_number="15550001111",
                slack_channel="C0SUPPORT",
                created_at=now,
            )
        )
        step = timedelta(hours=24) / count
        for start in range(0, count, 5000):
            chunk = range(start, min(count, start + 5000))
            await connection.execute(
                insert(Contact),
                [
                    {
                        "id": n + 1,
                        "contact_key": f"49151{n:08d}",
                        "wa_id": f"49151{n:08d}",
                        "name": f"Customer {n}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in chunk
                ],
            )
            await connection.execute(
                insert(Conversation),
                [
                    {
                        "id": n + 1,
                        "uid": f"{n:032x}",
                        "business_number_id": 1,
                        "contact_id": n + 1,
                        "slack_channel": "C0SUPPORT",
                        "slack_thread_ts": f"1700000000.{n:06d}",
                        "state": "open",
                        "window_expires_at": now + step * (n + 1),
                        "last_message_at": now,
                        "messages_from_agent": 0,
                        "messages_from_contact": 1,
                        "total_messages": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in chunk
                ],
            )
    await engine.dispose()


async def _scans(url: str, now: datetime, repeats: int) -> dict[str, float | int]:
    engine = create_engine(url)
    clock = Clock(now)
    watch = WindowWatch(uow=SqlUnitOfWorkFactory(engine), clock=clock, marks=MARKS, templates=None)
    started = time.perf_counter()
    first = await watch.scan()
    first_s = time.perf_counter() - started
    steady: list[float] = []
    idle: list[float] = []
    warned = 0
    for _ in range(repeats):
        clock.current += timedelta(minutes=1)
        started = time.perf_counter()
        warned += (await watch.scan()).warned
        steady.append(time.perf_counter() - started)
        started = time.perf_counter()
        await watch.scan()
        idle.append(time.perf_counter() - started)
    await engine.dispose()
    return {
        "first_warned": first.warned,
        "first_s": first_s,
        "steady_warned": warned // repeats,
        "steady_ms": statistics.median(steady) * 1000,
        "idle_ms": statistics.median(idle) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'scan.db'}"
        migrate(url)
        asyncio.run(_fill(url, args.conversations, now))
        result = asyncio.run(_scans(url, now, args.repeats))
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(
        "| engine | open conversations | first scan: warned, s | steady scan: warned, "
        "median ms | idle scan median ms |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {engine} | {args.conversations} | {result['first_warned']}, "
        f"{result['first_s']:.1f} | {result['steady_warned']}, {result['steady_ms']:.0f} "
        f"| {result['idle_ms']:.0f} |"
    )


if __name__ == "__main__":
    main()
