"""Slack event ids already handled, so a redelivered event sends nothing twice."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import SlackEvent
from storage.repositories.base import Repository

__all__ = ["SqlSlackEvents"]

_TABLE = cast(Table, SlackEvent.__table__)


@functools.cache
def _remember_statement(postgres: bool) -> Any:
    """Built once (each reply crosses it): the id inserted unless it is there already."""
    insert = pg_insert if postgres else sqlite_insert
    return insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.event_id)


class SqlSlackEvents(Repository):
    async def remember(self, event_id: str, *, now: datetime) -> bool:
        # One statement: the primary key decides, even between processes.
        statement = _remember_statement(self._postgres)
        found = await self._session.execute(statement, {"event_id": event_id, "received_at": now})
        return found.one_or_none() is not None
