"""SQLite statements run on the event loop's thread, and a lock held elsewhere never
stalls the loop (``storage/sqlite.py``)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bridge.ports import NewWebhook
from storage.uow import SqlUnitOfWorkFactory
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0

pytestmark = pytest.mark.skipif(USE_POSTGRES, reason="SQLite's connections")


async def _store(uow_factory: SqlUnitOfWorkFactory, body: bytes) -> None:
    async with uow_factory() as uow:
        await uow.inbox.store_many([NewWebhook(body=body, received_at=T0)])
        await uow.commit()


async def _bodies(uow_factory: SqlUnitOfWorkFactory) -> list[bytes]:
    async with uow_factory() as uow:
        return [row.body for row in await uow.inbox.claim(now=T0, limit=10)]


async def test_statements_run_on_the_event_loops_thread(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    threads: set[int] = set()

    def _seen(*_: Any) -> None:
        threads.add(threading.get_ident())

    event.listen(uow_factory.engine.sync_engine, "before_cursor_execute", _seen)
    await _store(uow_factory, b'{"n": 1}')
    assert await _bodies(uow_factory) == [b'{"n": 1}']
    assert threads == {threading.get_ident()}


async def test_a_write_waits_for_another_process_lock_without_stalling_the_loop(
    uow_factory: SqlUnitOfWorkFactory, database_url: str
) -> None:
    # Another process (a `wabridge numbers` command, say) holds the write lock.
    other = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        write = asyncio.create_task(_store(uow_factory, b'{"n": 2}'))
        # The loop goes on meanwhile. A write waiting on the loop's thread would stop it
        # for as long as the lock is held, up to the 30 s busy timeout.
        loop = asyncio.get_running_loop()
        ticks = [loop.time()]
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks.append(loop.time())
        assert not write.done()
        assert max(b - a for a, b in itertools.pairwise(ticks)) < 1.0
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.wait_for(write, timeout=30)
    assert await _bodies(uow_factory) == [b'{"n": 2}']
