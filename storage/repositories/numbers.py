"""Business numbers added with ``wabridge numbers add``: their channel and credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bridge.ports import BusinessNumber
from storage.models import BusinessNumber as NumberRow
from storage.repositories.base import Repository

__all__ = ["SqlNumbers"]


def _record(row: NumberRow) -> BusinessNumber:
    return BusinessNumber(
        phone_number_id=row.phone_number_id,
        display_phone_number=row.display_phone_number,
        waba_id=row.waba_id,
        slack_channel=row.slack_channel,
        access_token=row.access_token,
        app_secret=row.app_secret,
    )


class SqlNumbers(Repository):
    async def added(self) -> list[BusinessNumber]:
        rows = await self._session.scalars(
            select(NumberRow).where(NumberRow.added_at.is_not(None)).order_by(NumberRow.added_at)
        )
        return [_record(row) for row in rows]

    async def add(self, number: BusinessNumber, *, now: datetime) -> bool:
        # A row may exist already: conversations on the number created it, or it was added.
        row = await self._session.scalar(
            select(NumberRow)
            .where(NumberRow.phone_number_id == number.phone_number_id)
            .with_for_update()
        )
        created = row is None or row.added_at is None
        if row is None:
            row = NumberRow(phone_number_id=number.phone_number_id, created_at=now)
            self._session.add(row)
        row.display_phone_number = number.display_phone_number or ""
        row.waba_id = number.waba_id
        row.slack_channel = number.slack_channel
        # Changed, a number keeps its own credentials unless new ones are given: changing
        # its channel must not leave it signing and sending with the environment's.
        if created or number.access_token is not None:
            row.access_token = number.access_token
        if created or number.app_secret is not None:
            row.app_secret = number.app_secret
        row.added_at = row.added_at or now
        await self._session.flush()
        return created

    async def remove(self, phone_number_id: str) -> bool:
        row = await self._session.scalar(
            select(NumberRow)
            .where(NumberRow.phone_number_id == phone_number_id, NumberRow.added_at.is_not(None))
            .with_for_update()
        )
        if row is None:
            return False
        # The row stays: its conversations point at it. Its credentials go.
        row.added_at = None
        row.access_token = None
        row.app_secret = None
        await self._session.flush()
        return True
