"""SQLite connections that run their statements on the event loop's own thread.

aiosqlite hands every call (a cursor, a statement, a fetch, a commit) to a thread of its
own and waits for the answer; SQLAlchemy makes four such calls per statement. In WAL mode
with ``synchronous=NORMAL`` a statement works in the page cache and a commit appends to
the log without waiting for the disk, so the hop costs far more than the work: run inline,
a statement of the relay's hot path takes a third less (``bench/RESULTS.md``).

The one thing that may wait is a write lock held by another process (a ``wabridge``
command beside ``serve``). So the connection's busy timeout is zero, and a call that finds
the database busy is run again in a thread with the full timeout: the event loop never
waits on a lock. A call refused as busy did nothing, so running it again is safe.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite

__all__ = ["InlineConnection", "connect"]

_BUSY = sqlite3.SQLITE_BUSY


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection without its thread, except to wait for a lock."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], *, busy_ms: int) -> None:
        super().__init__(connector, iter_chunk_size=64)  # its thread is never started
        self._busy_ms = busy_ms

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != _BUSY:
                raise
        return await asyncio.to_thread(self._waiting, fn, args, kwargs)

    def _waiting(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        connection = self._conn
        connection.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        try:
            return fn(*args, **kwargs)
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connect(database: str, *, busy_ms: int, **kwargs: Any) -> InlineConnection:
    """As ``aiosqlite.connect``; SQLAlchemy calls it with the URL's arguments."""
    kwargs["timeout"] = 0
    kwargs["check_same_thread"] = False  # a busy call waits in another thread
    return InlineConnection(lambda: sqlite3.connect(database, **kwargs), busy_ms=busy_ms)
