"""The unit of work over SQLAlchemy (async): one transaction, with every repository on it.

Leaving the ``async with`` block without ``commit()`` rolls back. On PostgreSQL, work rows
are claimed with ``FOR UPDATE SKIP LOCKED`` so several worker processes never take the same
row; on SQLite (one process) a process-wide lock serialises write transactions, which
SQLite would otherwise answer with "database is locked".

A transaction that queued jobs offers them to this process's job worker just before it
commits (``SqlUnitOfWorkFactory.handoff``, see ``bridge.ports.Handoff``).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bridge.ports import Handoff
from storage.notify import JOBS, marked, send_marked
from storage.repositories import (
    SqlConversations,
    SqlCounters,
    SqlHolds,
    SqlInbox,
    SqlJobs,
    SqlMessages,
    SqlNumbers,
    SqlPauses,
    SqlRetention,
    SqlSchedule,
    SqlSlackEvents,
    SqlTemplates,
)
from storage.repositories.base import CONNECTION

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory"]


class SqlUnitOfWork:
    """One database transaction with the repositories the core uses."""

    conversations: SqlConversations
    messages: SqlMessages
    inbox: SqlInbox
    jobs: SqlJobs
    slack_events: SqlSlackEvents
    pauses: SqlPauses
    holds: SqlHolds
    templates: SqlTemplates
    schedule: SqlSchedule
    counters: SqlCounters
    numbers: SqlNumbers
    retention: SqlRetention

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        write_lock: asyncio.Lock | None,
        skip_locked: bool,
        handoff: Handoff | None = None,
    ) -> None:
        self._sessions = sessions
        self._write_lock = write_lock
        self._skip_locked = skip_locked
        self._handoff = handoff
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            session = self._sessions()
            await session.begin()
        except BaseException:
            if self._write_lock is not None:
                self._write_lock.release()
            raise
        self._session = session
        skip = self._skip_locked
        self.conversations = SqlConversations(session, skip_locked=skip)
        self.messages = SqlMessages(session, skip_locked=skip)
        self.inbox = SqlInbox(session, skip_locked=skip)
        self.jobs = SqlJobs(session, skip_locked=skip)
        self.slack_events = SqlSlackEvents(session, skip_locked=skip)
        self.pauses = SqlPauses(session, skip_locked=skip)
        self.holds = SqlHolds(session, skip_locked=skip)
        self.templates = SqlTemplates(session, skip_locked=skip)
        self.schedule = SqlSchedule(session, skip_locked=skip)
        self.counters = SqlCounters(session, skip_locked=skip)
        self.numbers = SqlNumbers(session, skip_locked=skip)
        self.retention = SqlRetention(session, skip_locked=skip)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        try:
            if session is not None:
                await session.rollback()
                await session.close()
        finally:
            if self._write_lock is not None:
                self._write_lock.release()

    async def commit(self) -> None:
        session = self._session
        if session is None:
            raise RuntimeError("commit outside the unit of work")
        handed = None
        if self._handoff is not None and marked(session, JOBS):
            handed = await self._handoff.claim(self)
        try:
            await send_marked(session)  # delivered by PostgreSQL with the commit
            await session.commit()
            session.info.pop(CONNECTION, None)  # the transaction's: gone with it
        except BaseException:
            if handed is not None:
                handed.drop()
            raise
        if handed is not None:
            await handed.start()


class SqlUnitOfWorkFactory:
    """Makes units of work on one engine (callable: ``uow = factory()``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autobegin=False)
        sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock() if sqlite else None
        self._skip_locked = not sqlite
        #: This process's job worker, once built: offered the jobs each transaction queues.
        self.handoff: Handoff | None = None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._sessions,
            write_lock=self._write_lock,
            skip_locked=self._skip_locked,
            handoff=self.handoff,
        )
