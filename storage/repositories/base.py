"""What every repository shares: the session of its unit of work, and the engine's dialect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from storage.notify import mark_work

if TYPE_CHECKING:
    import aiosqlite
    import psycopg

__all__ = ["CONNECTION", "Repository", "among"]

#: Where a session keeps the connection of its transaction once asked (``Repository._core``);
#: the unit of work drops it when the transaction ends.
CONNECTION: Final = "wabridge.connection"


def among(column: Any, name: str, *, postgres: bool) -> ColumnElement[bool]:
    """``column IN :name`` for a statement built once, the values bound when it runs: on
    PostgreSQL ``= ANY(:name)``, one array parameter however many values; elsewhere an
    expanding ``IN``."""
    if postgres:
        condition: ColumnElement[bool] = column == any_(bindparam(name, type_=ARRAY(column.type)))
        return condition
    expanding: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))
    return expanding


class Repository:
    def __init__(self, session: AsyncSession, *, skip_locked: bool) -> None:
        self._session = session
        # PostgreSQL: claims take rows with FOR UPDATE SKIP LOCKED. SQLite: one process, whose
        # write transactions a lock serialises, so there is nothing to skip.
        self._skip_locked = skip_locked

    async def _core(self, statement: Executable, params: Any = None) -> Any:
        """Run a Core statement (on tables, not ORM classes) on the transaction's connection,
        past the ORM session's per-statement work: 40% of a short statement's cost on
        SQLite. While the session holds changes not flushed yet, through the session, which
        flushes them first."""
        session = self._session
        if session.new or session.dirty or session.deleted:
            return await session.execute(statement, params)
        connection: AsyncConnection | None = session.info.get(CONNECTION)
        if connection is None:
            connection = session.info[CONNECTION] = await session.connection()
        return await connection.execute(statement, params)

    async def _binary(
        self, statement: str, params: Sequence[Any] | Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """PostgreSQL: ``statement`` (psycopg's ``%b`` placeholders) with its parameters in
        binary, on psycopg's own connection, in the session's transaction; the rows it
        returns. SQLAlchemy's statements cannot ask psycopg for binary parameters, and an
        array of thousands of values would otherwise be escaped into one long literal and
        parsed back by the server. Changes the session holds are flushed first."""
        driver = cast("psycopg.AsyncConnection[Any]", await self._driver())
        async with driver.cursor() as cursor:
            await cursor.execute(statement, params)
            return await cursor.fetchall() if cursor.description is not None else []

    async def _plain(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """SQLite: ``statement`` (``?`` placeholders, values as sqlite3 takes them) on the
        driver's own connection, in the session's transaction; the rows it returns. Past
        SQLAlchemy's compiling, binding and result handling: for the webhook route's insert
        of a group of bodies, more than half of what the statement cost. Changes the session
        holds are flushed first."""
        driver = cast("aiosqlite.Connection", await self._driver())
        async with driver.execute(statement, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def _driver(self) -> Any:
        """The driver's connection under the session's transaction, changes flushed."""
        session = self._session
        if session.new or session.dirty or session.deleted:
            await session.flush()
        connection: AsyncConnection | None = session.info.get(CONNECTION)
        if connection is None:
            connection = session.info[CONNECTION] = await session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    def _work_stored(self, channel: str, *, due_in: float = 0.0) -> None:
        """Other processes' loops hear of it, due in ``due_in`` seconds, once this
        transaction commits (PostgreSQL)."""
        mark_work(self._session, channel, due_in=due_in)

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def _insert(self, table: Any) -> Any:
        """An INSERT that knows ``ON CONFLICT`` on this engine."""
        return (pg_insert if self._postgres else sqlite_insert)(table)

    @staticmethod
    def _changed(result: Any) -> bool:
        return bool(result.rowcount)
