"""Rate limits the other side reported: one row per held scope, shared by every process."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, case, delete, select

from bridge.ports import RateHold
from storage.models import RateHoldEntry, UTCDateTime
from storage.repositories.base import Repository

__all__ = ["SqlHolds"]

#: Ended holds are deleted when a new one is stored, after this long (kept a little for
#: whoever looks at the table after an incident).
_KEEP_ENDED: Final = timedelta(hours=1)


#: Read before calls once a second by every process: built once (building it cost more than
#: running it).
_ACTIVE = select(RateHoldEntry.scope, RateHoldEntry.until, RateHoldEntry.reason).where(
    RateHoldEntry.until > bindparam("now", type_=UTCDateTime())
)


class SqlHolds(Repository):
    async def active(self, *, now: datetime) -> list[RateHold]:
        rows = await self._session.execute(_ACTIVE, {"now": now})
        return [RateHold(scope=r.scope, until=r.until, reason=r.reason) for r in rows]

    async def hold(self, scope: str, *, until: datetime, reason: str, now: datetime) -> None:
        await self._session.execute(
            delete(RateHoldEntry).where(RateHoldEntry.until < now - _KEEP_ENDED)
        )
        insert = self._insert(RateHoldEntry).values(
            scope=scope, until=until, reason=reason, since=now
        )
        # One statement, so two processes refused at once keep the longer of their holds.
        longer = insert.excluded.until > RateHoldEntry.until
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[RateHoldEntry.scope],
                set_={
                    "until": case((longer, insert.excluded.until), else_=RateHoldEntry.until),
                    "reason": case((longer, insert.excluded.reason), else_=RateHoldEntry.reason),
                    "since": case((longer, insert.excluded.since), else_=RateHoldEntry.since),
                },
            )
        )
