"""Lanes paused on an auth error: one row per paused lane, shared by every process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from bridge.jobs import Lane
from bridge.ports import LanePause
from storage.models import LanePauseEntry
from storage.repositories.base import Repository

__all__ = ["SqlPauses"]


#: Read by every worker once a second: built once (building it cost more than running it).
_ACTIVE = select(
    LanePauseEntry.lane, LanePauseEntry.reason, LanePauseEntry.since, LanePauseEntry.probe_after
).order_by(LanePauseEntry.lane)


class SqlPauses(Repository):
    async def active(self) -> list[LanePause]:
        rows = await self._session.execute(_ACTIVE)
        return [
            LanePause(lane=Lane(r.lane), reason=r.reason, since=r.since, probe_after=r.probe_after)
            for r in rows
        ]

    async def pause(self, lane: Lane, *, reason: str, now: datetime, probe_after: datetime) -> bool:
        statement = (
            self._insert(LanePauseEntry)
            .values(lane=lane.value, reason=reason, since=now, probe_after=probe_after)
            .on_conflict_do_nothing()
            .returning(LanePauseEntry.lane)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None

    async def postpone_probe(self, lane: Lane, *, probe_after: datetime) -> None:
        await self._session.execute(
            update(LanePauseEntry)
            .where(LanePauseEntry.lane == lane.value)
            .values(probe_after=probe_after)
        )

    async def lift(self, lane: Lane) -> bool:
        result = await self._session.execute(
            delete(LanePauseEntry).where(LanePauseEntry.lane == lane.value)
        )
        return self._changed(result)
