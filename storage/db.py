"""Engines and schema: building the async engine and bringing the schema to head."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Any, Final

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from bridge.codec import to_json
from storage import sqlite

__all__ = [
    "accepts_writes",
    "create_engine",
    "is_sqlite",
    "json_text",
    "migrate",
    "reach",
    "schema_is_current",
    "sync_url",
]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def json_text(value: Any) -> str:
    """JSON columns' text: orjson (a window scan queues thousands of jobs at once, and the
    standard library took 10 µs a job), or the standard library for what orjson refuses
    (an integer beyond 64 bits). A job is given as itself: orjson writes a dataclass, its
    datetimes, enums and tuples as ``bridge.codec.to_json`` would (to_json's 11 µs a job
    were the most of a window scan's own work), and the standard library is handed
    ``to_json`` for them."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=to_json)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """The async engine for ``url``. SQLite gets WAL, foreign keys, and statements run on
    the event loop's thread, with 30 s to wait for a lock in another (``storage/sqlite.py``)."""
    if is_sqlite(url):
        inline = partial(sqlite.connect, busy_ms=30_000)
        engine = create_async_engine(
            url,
            echo=echo,
            json_serializer=json_text,
            connect_args={"async_creator_fn": inline},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_async_engine(
        url, echo=echo, json_serializer=json_text, pool_size=10, max_overflow=10
    )
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection idle longer than this is pinged before it is used again.
PING_AFTER: Final = 5.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a connection only if it sat idle in the pool: one the server or the network
    dropped meanwhile is replaced before a statement fails on it. A ping on every checkout
    (``pool_pre_ping``) cost each unit of work a round trip, four per relayed message."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as error:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("a pooled connection was lost while idle") from error


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (Alembic runs synchronously)."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["database_url"] = sync_url(url)
    return config


def migrate(url: str) -> None:
    """Bring the schema of ``url`` to head. Synchronous: call it before the event loop starts."""
    command.upgrade(_config(url), "head")


def reach(url: str) -> None:
    """Connect to ``url`` once; ``SQLAlchemyError`` if the database does not answer.
    Synchronous: call it before the event loop starts."""
    engine = create_sync_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _current_matches_head(connection: Connection) -> bool:
    heads = set(ScriptDirectory.from_config(_config("sqlite://")).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


async def schema_is_current(engine: AsyncEngine) -> bool:
    """True when the database answers and its schema is at the newest migration."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_matches_head)


_PROBE = "readyz-probe"


async def accepts_writes(engine: AsyncEngine) -> bool:
    """Whether a write reaches the disk: a row written and removed in one committed
    transaction. On SQLite a full disk or a read-only file still answers reads, and only a
    write that is committed finds out (one that changes nothing is never written)."""
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:probe)"), {"probe": _PROBE}
        )
        await connection.execute(
            text("DELETE FROM alembic_version WHERE version_num = :probe"), {"probe": _PROBE}
        )
    return True
