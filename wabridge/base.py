"""What every command builds on: the clock, the database and the default business number.

Kept apart from ``bootstrap`` so that short commands (``deadletters``, ``numbers``) start
without importing the web, Slack and WhatsApp stacks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bridge.ports import BusinessNumber
from storage.db import accepts_writes, create_engine, is_sqlite, schema_is_current
from storage.uow import SqlUnitOfWorkFactory
from wabridge.settings import Settings

__all__ = ["Storage", "SystemClock", "build_storage", "default_number"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(kw_only=True)
class Storage:
    engine: AsyncEngine
    uow: SqlUnitOfWorkFactory
    sqlite: bool
    #: The schema check reads Alembic's scripts and logs; once at head, it is rechecked
    #: only this often (the database itself is asked on every call).
    schema_recheck: float = 60.0
    _schema_ok_until: float = 0.0

    async def ready(self) -> bool:
        if self.sqlite:
            # A full disk or a read-only file still answers reads: only a write tells.
            await accepts_writes(self.engine)
        else:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        if time.monotonic() < self._schema_ok_until:
            return True
        current = await schema_is_current(self.engine)
        if current:
            self._schema_ok_until = time.monotonic() + self.schema_recheck
        return current


def build_storage(settings: Settings) -> Storage:
    engine = create_engine(settings.database_url)
    return Storage(
        engine=engine, uow=SqlUnitOfWorkFactory(engine), sqlite=is_sqlite(settings.database_url)
    )


def default_number(settings: Settings) -> BusinessNumber:
    return BusinessNumber(
        phone_number_id=settings.meta_phone_number_id,
        display_phone_number=None,
        waba_id=settings.meta_waba_id,
        slack_channel=settings.slack_channel_id,
        default=True,
    )
