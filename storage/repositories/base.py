"""What every repository shares: the session of its unit of work, and the engine's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Repository"]


class Repository:
    def __init__(self, session: AsyncSession, *, skip_locked: bool) -> None:
        self._session = session
        # PostgreSQL: claims take rows with FOR UPDATE SKIP LOCKED. SQLite: one process, whose
        # write transactions a lock serialises, so there is nothing to skip.
        self._skip_locked = skip_locked

    def _insert(self, table: Any) -> Any:
        """An INSERT that knows ``ON CONFLICT`` on this engine."""
        dialect = self._session.get_bind().dialect.name
        return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)

    @staticmethod
    def _changed(result: Any) -> bool:
        return bool(result.rowcount)
