"""What makes scheduled work exactly-once across processes: one row per mark, one per run."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bridge.ports import DueMark
from storage.models import Contact, Conversation, ScheduledRun, UTCDateTime, WindowMark
from storage.repositories.base import Repository, among

__all__ = ["SqlSchedule"]

_MARKS = cast(Table, WindowMark.__table__)
_RETURNED = (_MARKS.c.conversation_id, _MARKS.c.window_expires_at, _MARKS.c.mark_seconds)


@functools.cache
def _mark_windows_statement(postgres: bool) -> Any:
    """The windows ending in ``(after, until]`` whose mark is not recorded yet, recorded, at
    most ``limit`` of them, earliest end first: one statement, so the windows never travel to
    the process and back. The marks' range repeats the conversations' (it follows from the
    join, but no planner infers it): PostgreSQL then reads both ranges from their indexes
    alone and merges them, so a scan that finds nothing costs two index ranges. In one order
    whoever runs it, so two scheduler processes wait for each other's rows in that order,
    never deadlock, and each mark is recorded by one of them (``ON CONFLICT DO NOTHING``)."""
    windows = cast(Table, Conversation.__table__)
    after = bindparam("after", type_=UTCDateTime())
    until = bindparam("until", type_=UTCDateTime())
    mark = bindparam("mark_seconds", type_=Integer())
    reached = _MARKS.alias("reached")
    marked = exists().where(
        reached.c.mark_seconds == mark,
        reached.c.window_expires_at > after,
        reached.c.window_expires_at <= until,
        reached.c.conversation_id == windows.c.id,
        reached.c.window_expires_at == windows.c.window_expires_at,
    )
    due = (
        select(
            windows.c.id,
            windows.c.window_expires_at,
            mark,
            bindparam("now", type_=UTCDateTime()),
        )
        .where(windows.c.window_expires_at > after, windows.c.window_expires_at <= until, ~marked)
        .order_by(windows.c.window_expires_at, windows.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    insert = pg_insert(_MARKS) if postgres else sqlite_insert(_MARKS)
    return (
        insert.from_select(
            ["conversation_id", "window_expires_at", "mark_seconds", "reached_at"], due
        )
        .on_conflict_do_nothing()
        .returning(*_RETURNED)
    )


#: PostgreSQL: the marks recorded, each with its contact, in the same statement.
_MARKED = _mark_windows_statement(True).cte("marked")
_MARK_WINDOWS_WITH_CONTACTS: Any = (
    select(*_MARKED.c, Contact.contact_key)
    .join(Conversation, Conversation.id == _MARKED.c.conversation_id)
    .join(Contact, Contact.id == Conversation.contact_id)
)
#: SQLite: the contacts of the marks just recorded.
_CONTACTS: Any = (
    select(Conversation.id, Contact.contact_key)
    .join(Contact, Conversation.contact_id == Contact.id)
    .where(among(Conversation.id, "ids", postgres=False))
)


class SqlSchedule(Repository):
    async def mark_windows(
        self,
        *,
        after: datetime,
        until: datetime,
        mark_seconds: int,
        now: datetime,
        limit: int,
        with_contacts: bool,
    ) -> list[DueMark]:
        values = {
            "after": after,
            "until": until,
            "mark_seconds": mark_seconds,
            "now": now,
            "limit": limit,
        }
        if with_contacts and self._postgres:
            rows = await self._session.execute(_MARK_WINDOWS_WITH_CONTACTS, values)
            return [
                DueMark(
                    conversation_id=cid, window_expires_at=end, mark_seconds=mark, contact_id=key
                )
                for cid, end, mark, key in rows
            ]
        rows = await self._session.execute(_mark_windows_statement(self._postgres), values)
        marks = [
            DueMark(conversation_id=cid, window_expires_at=end, mark_seconds=mark)
            for cid, end, mark in rows
        ]
        if not with_contacts or not marks:
            return marks
        found = await self._session.execute(_CONTACTS, {"ids": [m.conversation_id for m in marks]})
        contacts: dict[int, str] = {cid: key for cid, key in found}
        return [dataclasses.replace(m, contact_id=contacts.get(m.conversation_id)) for m in marks]

    async def reach_mark(
        self, conversation_id: int, *, window_expires_at: datetime, mark_seconds: int, now: datetime
    ) -> bool:
        """Record that a window reached a mark; True only for the first to record it."""
        statement = (
            self._insert(WindowMark)
            .values(
                conversation_id=conversation_id,
                window_expires_at=window_expires_at,
                mark_seconds=mark_seconds,
                reached_at=now,
            )
            .on_conflict_do_nothing()
            .returning(WindowMark.conversation_id)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None

    async def claim_run(self, job: str, *, slot: int, now: datetime) -> bool:
        """Claim the run of ``job`` in ``slot``; True only for the first to claim it."""
        statement = (
            self._insert(ScheduledRun)
            .values(job=job, slot=slot, claimed_at=now)
            .on_conflict_do_nothing()
            .returning(ScheduledRun.job)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None
