"""Inbox drain: how many stored webhooks one inbox worker turns into messages per second.

Fills the inbox of a fresh database with N stored webhooks (one customer message each, over
C contacts, as the web role stores them), then runs the real inbox worker until the inbox is
empty and reports messages per second and the worker's CPU time per message. Slack posts
are queued, not made: this measures the inbox worker alone.

    .venv/bin/python bench/inbox_drain.py --messages 2000
    .venv/bin/python bench/inbox_drain.py --messages 2000 --workers 2 --database-url postgresql+psycopg://...
    .venv/bin/python bench/inbox_drain.py --messages 500 --profile /tmp/inbox.prof

With ``--workers 2`` two worker processes drain the same inbox side by side (PostgreSQL:
rows are claimed with ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import platform
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bridge.ports import BusinessNumber
from bridge.usecases.numbers import NumberBook
from sandbox.meta_payloads import messages_webhook, text_message
from storage.db import create_engine, is_sqlite, migrate
from storage.models import InboxEntry, Message
from storage.uow import SqlUnitOfWorkFactory
from whatsapp.webhooks import WebhookParser

PHONE_NUMBER_ID = "1000000001"
DISPLAY = "15550001111"
CHANNEL = "C0SUPPORT"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _number() -> BusinessNumber:
    return BusinessNumber(
        phone_number_id=PHONE_NUMBER_ID,
        display_phone_number=DISPLAY,
        slack_channel=CHANNEL,
        waba_id="WABA",
        default=True,
    )


async def _fill(url: str, messages: int, contacts: int) -> None:
    factory = SqlUnitOfWorkFactory(create_engine(url))
    now = datetime.now(UTC)
    async with factory() as uow:
        for n in range(messages):
            wa_id = f"49151{n % contacts:08d}"
            body = messages_webhook(
                waba_id="WABA",
                display_phone_number=DISPLAY,
                phone_number_id=PHONE_NUMBER_ID,
                contacts=[(wa_id, f"Customer {n % contacts}")],
                messages=[text_message(from_wa_id=wa_id, text=f"message {n}")],
            )
            await uow.inbox.store(json.dumps(body).encode(), received_at=now, dead_reason=None)
        await uow.commit()
    await factory.engine.dispose()


async def _drain(url: str, batch: int) -> dict[str, float]:
    # Imported here: the worker is built as bootstrap builds it, in the process that runs it.
    from bridge.workers.inbox import InboxWorker

    factory = SqlUnitOfWorkFactory(create_engine(url))
    worker = InboxWorker(
        uow=factory,
        parser=WebhookParser(),
        clock=Clock(),
        numbers=NumberBook(uow=factory, default=_number()),
        batch=batch,
    )
    cpu, wall = time.process_time(), time.perf_counter()
    taken = 0
    while n := await worker.run_once():
        taken += n
    result = {
        "taken": taken,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    await factory.engine.dispose()
    return result


def _worker_process(url: str, batch: int, out: multiprocessing.Queue[dict[str, float]]) -> None:
    out.put(asyncio.run(_drain(url, batch)))


async def _stored(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        messages = (await connection.execute(select(func.count()).select_from(Message))).scalar()
        pending = (
            await connection.execute(
                select(func.count()).select_from(InboxEntry).where(InboxEntry.state != "done")
            )
        ).scalar()
    await engine.dispose()
    return int(messages or 0), int(pending or 0)


def run_once(
    url: str, *, messages: int, contacts: int, workers: int, batch: int
) -> dict[str, float]:
    migrate(url)
    asyncio.run(_fill(url, messages, contacts))
    started = time.perf_counter()
    if workers == 1:
        results = [asyncio.run(_drain(url, batch))]
    else:
        out: multiprocessing.Queue[dict[str, float]] = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(target=_worker_process, args=(url, batch, out))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        results = [out.get() for _ in procs]
        for proc in procs:
            proc.join()
    wall = time.perf_counter() - started
    stored, left = asyncio.run(_stored(url))
    assert stored == messages and left == 0, f"{stored} of {messages} stored, {left} left"
    cpu = sum(r["cpu_s"] for r in results)
    return {
        "per_s": messages / wall,
        "cpu_ms_per_message": cpu * 1000 / messages,
        "max_rss_mib": max(r["max_rss_mib"] for r in results),
    }


def _fresh_url(base: str | None, tmp: Path, n: int) -> str:
    if base is None:
        return f"sqlite+aiosqlite:///{tmp / f'drain{n}.db'}"
    # A fresh database per run on the server the URL names.
    import psycopg

    name = f"wabridge_drain_{n}_{int(time.time())}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0, help="webhooks per claim (0: as serve)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", default=None, help="write a cProfile of one drain here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wabridge-drain-") as tmp:
        batch = args.batch or (20 if args.database_url is None else 50)
        if args.profile:
            url = _fresh_url(args.database_url, Path(tmp), 0)
            migrate(url)
            asyncio.run(_fill(url, args.messages, args.contacts))
            cProfile.run(f"asyncio.run(_drain({url!r}, {batch}))", args.profile)
            print(f"profile written to {args.profile}")
            return
        runs = [
            run_once(
                _fresh_url(args.database_url, Path(tmp), n),
                messages=args.messages,
                contacts=args.contacts,
                workers=args.workers,
                batch=batch,
            )
            for n in range(args.runs)
        ]
    engine = "SQLite" if args.database_url is None or is_sqlite(args.database_url) else "PostgreSQL"
    cores = multiprocessing.cpu_count()
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}")
    print(
        f"{engine}, {args.messages} messages, {args.contacts} contacts, "
        f"{args.workers} worker(s), batch {batch}"
    )
    for key in ("per_s", "cpu_ms_per_message", "max_rss_mib"):
        values = [r[key] for r in runs]
        low, high = min(values), max(values)
        print(f"{key}: median {statistics.median(values):.2f} (range {low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()
