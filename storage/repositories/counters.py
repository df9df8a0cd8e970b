"""Running totals for ``/metrics``, kept in the database so every process adds to one number."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Counter
from storage.repositories.base import Repository

__all__ = ["SqlCounters"]


class SqlCounters(Repository):
    async def add(self, name: str, amount: int = 1) -> None:
        # One statement: concurrent workers add up instead of overwriting each other.
        insert = self._insert(Counter).values(name=name, value=amount)
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[Counter.name], set_={"value": Counter.value + amount}
            )
        )

    async def all(self) -> dict[str, int]:
        rows = await self._session.execute(select(Counter.name, Counter.value))
        return {name: int(value) for name, value in rows.all()}
