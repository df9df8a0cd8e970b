"""What makes scheduled work exactly-once across processes: one row per mark, one per run."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Integer, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bridge.ports import DueMark
from storage.models import ScheduledRun, UTCDateTime, WindowMark
from storage.repositories.base import Repository

__all__ = ["SqlSchedule"]

_MARKS = cast(Table, WindowMark.__table__)
_RETURNED = (_MARKS.c.conversation_id, _MARKS.c.window_expires_at, _MARKS.c.mark_seconds)
_REACH_MANY = sqlite_insert(_MARKS).on_conflict_do_nothing().returning(*_RETURNED)
_UNNESTED = (
    func.unnest(
        bindparam("conversation_id", type_=ARRAY(BigInteger())),
        bindparam("window_expires_at", type_=ARRAY(UTCDateTime())),
        bindparam("mark_seconds", type_=ARRAY(Integer())),
    )
    .table_valued("conversation_id", "window_expires_at", "mark_seconds", with_ordinality="n")
    .render_derived()
)
#: PostgreSQL: the marks from one row of arrays, one short statement however many.
_REACH_UNNESTED = (
    pg_insert(_MARKS)
    .from_select(
        ["conversation_id", "window_expires_at", "mark_seconds", "reached_at"],
        select(
            _UNNESTED.c.conversation_id,
            _UNNESTED.c.window_expires_at,
            _UNNESTED.c.mark_seconds,
            bindparam("now", type_=UTCDateTime()),
        ).order_by(_UNNESTED.c.n),
    )
    .on_conflict_do_nothing()
    .returning(*_RETURNED)
)


class SqlSchedule(Repository):
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

    async def reach_marks(self, marks: Collection[DueMark], *, now: datetime) -> set[DueMark]:
        if not marks:
            return set()
        # In key order, so that two processes recording the same marks wait for each
        # other's rows in one order and never deadlock.
        ordered = sorted(
            marks, key=lambda m: (m.conversation_id, m.window_expires_at, m.mark_seconds)
        )
        if self._postgres:
            result = await self._session.execute(
                _REACH_UNNESTED,
                {
                    "conversation_id": [m.conversation_id for m in ordered],
                    "window_expires_at": [m.window_expires_at for m in ordered],
                    "mark_seconds": [m.mark_seconds for m in ordered],
                    "now": now,
                },
            )
        else:
            # On the table, not the class: one compiled statement for all the rows, sent as
            # multi-row INSERTs.
            result = await self._session.execute(
                _REACH_MANY,
                [
                    {
                        "conversation_id": m.conversation_id,
                        "window_expires_at": m.window_expires_at,
                        "mark_seconds": m.mark_seconds,
                        "reached_at": now,
                    }
                    for m in ordered
                ],
            )
        return {
            DueMark(conversation_id=cid, window_expires_at=end, mark_seconds=mark)
            for cid, end, mark in result
        }

    async def claim_run(self, job: str, *, slot: int, now: datetime) -> bool:
        """Claim the run of ``job`` in ``slot``; True only for the first to claim it."""
        statement = (
            self._insert(ScheduledRun)
            .values(job=job, slot=slot, claimed_at=now)
            .on_conflict_do_nothing()
            .returning(ScheduledRun.job)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None
