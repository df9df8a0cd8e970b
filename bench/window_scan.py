r"""Window scan: how long one scan of the windows about to close takes, over many open ones.

Fills a database with N open conversations whose windows end evenly over the next 24 hours
(and, with ``--closed M``, M more whose windows closed evenly over the last 24 hours, every
mark recorded, as in service), then times the scan ``wabridge serve`` runs every
``WABRIDGE_SCAN_INTERVAL``, with three approved templates per language to suggest:

- the first scan, which finds every window already inside a warning mark (2 h and 30 min:
  about a twelfth of them) and queues a warning for each;
- a steady scan a minute later (``--interval``: the seconds between scans, as
  ``WABRIDGE_SCAN_INTERVAL``), which finds only the windows that crossed a mark since
  (about N / 1440 per mark and minute) or closed (as many), as every scan does in service;
- an idle scan right after, which finds nothing new;
- at the end, the first scan of another process (after a restart), which finds nothing new
  but looks a whole day back for closes.

Between the first scan and the others, the jobs it queued are marked done (the workers would
have posted them) and, on PostgreSQL, the tables vacuumed and analyzed (as autovacuum would
after such a change). PostgreSQL is filled with COPY, SQLite with multi-row inserts.

    .venv/bin/python bench/window_scan.py --conversations 100000
    .venv/bin/python bench/window_scan.py --conversations 1000000 --database-url "$PG_URL"
    .venv/bin/python bench/window_scan.py --conversations 1000000 --closed 1000000 \
        --database-url "$PG_URL"

with ``PG_URL`` a ``postgresql+psycopg://`` URL of an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from storage.models import BusinessNumber, Contact, Conversation, JobEntry, WindowMark
from storage.uow import SqlUnitOfWorkFactory

MARKS = (timedelta(hours=2), timedelta(minutes=30))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def _rows(
    count: int, closed: int, now: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Contacts, their conversations (``count`` windows ending evenly over the next 24 hours,
    then ``closed`` that ended evenly over the last 24 hours) and the marks the closed ones
    reached."""
    contacts: list[tuple[Any, ...]] = []
    conversations: list[tuple[Any, ...]] = []
    marks: list[tuple[Any, ...]] = []
    ends = [now + timedelta(hours=24) / count * (n + 1) for n in range(count)]
    ends += [now - timedelta(hours=24) / closed * n for n in range(closed)]
    for n, end in enumerate(ends):
        key = f"49151{n:08d}"
        contacts.append((n + 1, key, key, f"Customer {n}", now, now))
        conversations.append(
            (
                *(n + 1, f"{n:032x}", 1, n + 1, "C0SUPPORT", f"1700000000.{n:06d}", "open"),
                *(end, end - timedelta(hours=24), 0, 1, 1, now, now),
            )
        )
        if end <= now:
            marks += [(n + 1, end, seconds, end) for seconds in (7200, 1800, 0)]
    return contacts, conversations, marks


CONTACT_COLUMNS = ("id", "contact_key", "wa_id", "name", "created_at", "updated_at")
CONVERSATION_COLUMNS = (
    *("id", "uid", "business_number_id", "contact_id", "slack_channel", "slack_thread_ts"),
    *("state", "window_expires_at", "last_message_at", "messages_from_agent"),
    *("messages_from_contact", "total_messages", "created_at", "updated_at"),
)
MARK_COLUMNS = ("conversation_id", "window_expires_at", "mark_seconds", "reached_at")


async def _fill(url: str, count: int, closed: int, now: datetime) -> float:
    """Fill the database; the seconds it took. PostgreSQL: COPY. SQLite: multi-row inserts."""
    started = time.perf_counter()
    contacts, conversations, marks = _rows(count, closed, now)
    tables = (
        (Contact.__table__, CONTACT_COLUMNS, contacts),
        (Conversation.__table__, CONVERSATION_COLUMNS, conversations),
        (WindowMark.__table__, MARK_COLUMNS, marks),
    )
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
                for table, columns, rows in tables:
                    async with cursor.copy(
                        f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
                    ) as copy:
                        for row in rows:
                            await copy.write_row(row)
        else:
            for table, columns, rows in tables:
                for start in range(0, len(rows), 10_000):
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
            await connection.exec_driver_sql("VACUUM ANALYZE contacts, conversations, window_marks")
    await engine.dispose()
    return time.perf_counter() - started


async def _backends(engine: Any) -> list[int]:
    """PostgreSQL on this machine: the server processes serving the bench's connections,
    whose CPU time is read from ``/proc`` (wall time on shared cores is noisy; CPU time much
    less so). Empty elsewhere."""
    if engine.dialect.name != "postgresql":
        return []
    async with engine.connect() as connection:
        pids = (
            await connection.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            )
        ).scalars()
        return list(pids)


def _cpu(pids: list[int]) -> float:
    """Seconds of CPU the processes ``pids`` used so far (user and system)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # not on this machine
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


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


async def _scans(url: str, now: datetime, repeats: int, intervals: list[int]) -> dict[str, Any]:
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
    backends = await _backends(engine)
    steadies: dict[int, dict[str, Any]] = {}
    for interval in intervals:  # each one's scans continue where the last one's stopped
        steady: list[float] = []
        idle: list[float] = []
        cpu_client = cpu_server = 0.0
        warned = closed = 0
        for _ in range(repeats):
            clock.current += timedelta(seconds=interval)
            started, client, server = time.perf_counter(), time.process_time(), _cpu(backends)
            result = await watch.scan()
            steady.append(time.perf_counter() - started)
            cpu_client += time.process_time() - client
            cpu_server += _cpu(backends) - server
            warned, closed = warned + result.warned, closed + result.closed
            started = time.perf_counter()
            await watch.scan()
            idle.append(time.perf_counter() - started)
        steadies[interval] = {
            "steady_warned": warned // repeats,
            "steady_closed": closed // repeats,
            "steady_ms": statistics.median(steady) * 1000,
            "idle_ms": statistics.median(idle) * 1000,
            "cpu_client_ms": cpu_client / repeats * 1000,
            "cpu_server_ms": cpu_server / repeats * 1000 if backends else None,
            "steady_all": " ".join(f"{s * 1000:.0f}" for s in steady),
            "idle_all": " ".join(f"{s * 1000:.0f}" for s in idle),
        }
    # A process that just started looks a day back for closes (then since its last scan).
    restarted = WindowWatch(uow=uow, clock=clock, marks=MARKS, templates=templates)
    started = time.perf_counter()
    await restarted.scan()
    restart_s = time.perf_counter() - started
    await engine.dispose()
    return {
        "restart_ms": restart_s * 1000,
        "first_warned": first.warned,
        "first_s": first_s,
        "intervals": steadies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000, help="open windows")
    parser.add_argument(
        "--closed", type=int, default=0, help="windows that closed over the last 24 hours"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--interval",
        type=int,
        nargs="+",
        default=[60],
        help="seconds between steady scans (WABRIDGE_SCAN_INTERVAL); several: one after another",
    )
    parser.add_argument("--database-url")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'scan.db'}"
        migrate(url)
        fill_s = asyncio.run(_fill(url, args.conversations, args.closed, now))
        result = asyncio.run(_scans(url, now, args.repeats, args.interval))
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(
        f"filled {args.conversations} open conversations and {args.closed} closed ones "
        f"in {fill_s:.1f} s"
    )
    for interval, figures in result["intervals"].items():
        print(
            f"every {interval} s: steady scans, ms: {figures['steady_all']}; "
            f"idle scans, ms: {figures['idle_all']}"
        )
        server = figures["cpu_server_ms"]
        print(
            f"every {interval} s: CPU per steady scan, ms: bench process "
            f"{figures['cpu_client_ms']:.0f}"
            + (f", database server {server:.0f}" if server is not None else "")
        )
    print(f"first scan of a process started since (nothing new): {result['restart_ms']:.0f} ms")
    print(
        "| engine | open conversations | first scan: warned, s | scan interval s "
        "| steady scan: warned, closed, median ms | idle scan median ms |"
    )
    print("|---|---|---|---|---|---|")
    for interval, figures in result["intervals"].items():
        print(
            f"| {engine} | {args.conversations:,}"
            + (f" (+ {args.closed:,} closed)" if args.closed else "")
            + f" | {result['first_warned']:,}, {result['first_s']:.1f} | {interval} "
            f"| {figures['steady_warned']}, {figures['steady_closed']}, "
            f"{figures['steady_ms']:.0f} | {figures['idle_ms']:.0f} |"
        )


if __name__ == "__main__":
    main()
