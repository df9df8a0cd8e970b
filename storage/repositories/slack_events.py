"""Slack event ids already handled, so a redelivered event sends nothing twice."""

from __future__ import annotations

from datetime import datetime

from storage.models import SlackEvent
from storage.repositories.base import Repository

__all__ = ["SqlSlackEvents"]


class SqlSlackEvents(Repository):
    async def remember(self, event_id: str, *, now: datetime) -> bool:
        # One statement: the primary key decides, even between processes.
        statement = (
            self._insert(SlackEvent)
            .values(event_id=event_id, received_at=now)
            .on_conflict_do_nothing()
            .returning(SlackEvent.event_id)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None
