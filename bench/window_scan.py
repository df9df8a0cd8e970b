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
from typing import Any

from sqlalchemy import insert, update

from bridge.domain import MessageTemplate
from bridge.usecases.templates import Templates
from bridge.usecases.warnings import WindowWatch
from storage.db import create_engine, migrate
from storage.models import BusinessNumber, Contact, Conversation, JobEntry
from storage.uow import SqlUnitOfWorkFactory

MARKS = (timedelta(hours=2), timedelta(minutes=30))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def _rows(count: int, now: datetime) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Contacts and their open conversations, windows ending evenly over the next 24 hours."""
    step = timedelta(hours=24) / count
    contacts = [
        (n + 1, f"49151{n:08d}", f"49151{n:08d}", f"Customer {n}", now, now) for n in range(count)
    ]
    conversations = [
        (
            *(n + 1, f"{n:032x}", 1, n + 1, "C0SUPPORT", f"1700000000.{n:06d}", "open"),
            *(now + step * (n + 1), now, 0, 1, 1, now, now),
        )
        for n in range(count)
    ]
    return contacts, conversations


CONTACT_COLUMNS = ("id", "contact_key", "wa_id", "name", "created_at", "updated_at")
CONVERSATION_COLUMNS = (
    *("id", "uid", "business_number_id", "contact_id", "slack_channel", "slack_thread_ts"),
    *("state", "window_expires_at", "last_message_at", "messages_from_agent"),
    *("messages_from_contact", "total_messages", "created_at", "updated_at"),
)


async def _fill(url: str, count: int, now: datetime) -> float:
    """Fill the database; the seconds it took. PostgreSQL: COPY. SQLite: multi-row inserts."""
    started = time.perf_counter()
    contacts, conversations = _rows(count, now)
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
        if engine.dialect.name == "postgresql":
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None
            async with raw.cursor() as cursor:
                for table, columns, rows in (
                    ("contacts", CONTACT_COLUMNS, contacts),
                    ("conversations", CONVERSATION_COLUMNS, conversations),
                ):
                    async with cursor.copy(
                        f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                    ) as copy:
                        for row in rows:
                            await copy.write_row(row)
        else:
            for table, columns, rows in (
                (Contact.__table__, CONTACT_COLUMNS, contacts),
                (Conversation.__table__, CONVERSATION_COLUMNS, conversations),
            ):
                for start in range(0, count, 10_000):
                    await connection.execute(
                        insert(table),
                        [
                            dict(zip(columns, row, strict=True))
                            for row in rows[start : start + 10_000]
                        ],
                    )
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a million rows arrive: statistics for the planner,
        # and the visibility map that lets index-only scans skip the table.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE contacts, conversations")
    await engine.dispose()
    return time.perf_counter() - started


class TemplatesAtMeta:
    """Meta's side of a template sync: a few approved templates in a few languages."""

    async def templates(self, waba_id: str) -> list[MessageTemplate]:
        return [
            MessageTemplate(
                name=f"{name}_{n}", language=language, category=category, status="APPROVED"
            )
            for n in range(3)
            for language in ("de", "en", "fr")
            for name, category in (("order_update", "UTILITY"), ("offer", "MARKETING"))
        ]


async def _scans(url: str, now: datetime, repeats: int) -> dict[str, Any]:
    engine = create_engine(url)
    clock = Clock(now)
    uow = SqlUnitOfWorkFactory(engine)
    # As ``serve`` runs it: each warning suggests templates in the contact's language.
    templates = Templates(uow=uow, whatsapp=TemplatesAtMeta(), clock=clock, waba_id="WABA")
    await templates.sync()
    watch = WindowWatch(uow=uow, clock=clock, marks=MARKS, templates=templates)
    started = time.perf_counter()
    first = await watch.scan()
    first_s = time.perf_counter() - started
    async with engine.begin() as connection:
        # In service the workers post these warnings within minutes: a minute later, the
        # jobs waiting are the last few seconds' (the scan looks for a waiting parent update).
        await connection.execute(
            update(JobEntry)
            .values(state="done", finished_at=now)
            .where(JobEntry.state == "pending")
        )
    if engine.dialect.name == "postgresql":
        # The first scan wrote a twelfth of all windows' marks and jobs at once; autovacuum
        # analyzes tables after such a change (within a minute). Done here, so that it
        # neither runs during the steady scans nor leaves them with an empty table's plans.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE window_marks, jobs")
    steady: list[float] = []
    idle: list[float] = []
    warned = closed = 0
    for _ in range(repeats):
        clock.current += timedelta(minutes=1)
        started = time.perf_counter()
        result = await watch.scan()
        steady.append(time.perf_counter() - started)
        warned, closed = warned + result.warned, closed + result.closed
        started = time.perf_counter()
        await watch.scan()
        idle.append(time.perf_counter() - started)
    await engine.dispose()
    return {
        "first_warned": first.warned,
        "first_s": first_s,
        "steady_warned": warned // repeats,
        "steady_closed": closed // repeats,
        "steady_ms": statistics.median(steady) * 1000,
        "idle_ms": statistics.median(idle) * 1000,
        "steady_all": " ".join(f"{s * 1000:.0f}" for s in steady),
        "idle_all": " ".join(f"{s * 1000:.0f}" for s in idle),
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
        fill_s = asyncio.run(_fill(url, args.conversations, now))
        result = asyncio.run(_scans(url, now, args.repeats))
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(f"filled {args.conversations} open conversations in {fill_s:.1f} s")
    print(f"steady scans, ms: {result['steady_all']}; idle scans, ms: {result['idle_all']}")
    print(
        "| engine | open conversations | first scan: warned, s | steady scan: warned, "
        "closed, median ms | idle scan median ms |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {engine} | {args.conversations} | {result['first_warned']}, "
        f"{result['first_s']:.1f} | {result['steady_warned']}, {result['steady_closed']}, "
        f"{result['steady_ms']:.0f} | {result['idle_ms']:.0f} |"
    )


if __name__ == "__main__":
    main()
