"""Bookkeeping past its use, deleted a bounded batch at a time.

Each method deletes at most ``limit`` rows, oldest first: the keys are read with a ``LIMIT``
from the start of an index (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so two purges, or a
purge and a replay, never wait on each other), then those rows are deleted by key. The
caller commits after each batch, so no transaction holds many rows or long locks. Messages,
conversations, contacts, templates and counters are never touched here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal_column, select, tuple_

from bridge.jobs import JobState
from storage.models import InboxEntry, JobEntry, ScheduledRun, SlackEvent, WindowMark
from storage.repositories.base import Repository

__all__ = ["SqlRetention"]

#: ``state = 'done'`` written as a literal, not a bound parameter: only then may PostgreSQL's
#: generic plans (and SQLite) use the partial indexes ``WHERE state = 'done'``.
_DONE: Any = literal_column(f"'{JobState.DONE.value}'")


class SqlRetention(Repository):
    async def purge_processed_webhooks(self, *, before: datetime, limit: int) -> int:
        """Webhook bodies processed successfully before ``before``; never pending or dead ones."""
        return await self._purge(
            InboxEntry,
            (InboxEntry.id,),
            (self._done(InboxEntry.state), InboxEntry.processed_at < before),
            order=InboxEntry.processed_at,
            limit=limit,
        )

    async def purge_finished_jobs(self, *, before: datetime, limit: int) -> int:
        """Jobs that ended ``done`` before ``before``; never failed (replayable) or pending ones."""
        return await self._purge(
            JobEntry,
            (JobEntry.id,),
            (self._done(JobEntry.state), JobEntry.finished_at < before),
            order=JobEntry.finished_at,
            limit=limit,
        )

    async def purge_slack_events(self, *, before: datetime, limit: int) -> int:
        """Slack event ids received before ``before`` (Slack stopped redelivering them)."""
        return await self._purge(
            SlackEvent,
            (SlackEvent.event_id,),
            (SlackEvent.received_at < before,),
            order=SlackEvent.received_at,
            limit=limit,
        )

    async def purge_window_marks(self, *, before: datetime, limit: int) -> int:
        """Warning marks of windows that ended before ``before``."""
        return await self._purge(
            WindowMark,
            (WindowMark.conversation_id, WindowMark.window_expires_at, WindowMark.mark_seconds),
            (WindowMark.window_expires_at < before,),
            order=WindowMark.window_expires_at,
            limit=limit,
        )

    async def purge_scheduled_runs(self, *, before: datetime, limit: int) -> int:
        """Claims of scheduled runs made before ``before``. The table stays small (a few rows
        an hour), so it has no index on ``claimed_at``."""
        return await self._purge(
            ScheduledRun,
            (ScheduledRun.job, ScheduledRun.slot),
            (ScheduledRun.claimed_at < before,),
            order=ScheduledRun.claimed_at,
            limit=limit,
        )

    def _done(self, state: Any) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = state == _DONE
        if self._session.get_bind().dialect.name == "sqlite":
            # Without statistics (no ANALYZE) SQLite prefers the (state, id) index and sorts
            # every done row; likely() steers it to the partial index. Same meaning.
            return func.likely(condition)
        return condition

    async def _purge(
        self,
        table: type[Any],
        keys: tuple[Any, ...],
        where: tuple[Any, ...],
        *,
        order: Any,
        limit: int,
    ) -> int:
        if limit <= 0:
            return 0
        # Ordered by the indexed column the cutoff applies to: the index range is read from its
        # start and stops after ``limit`` entries, however many old rows remain.
        chosen = select(*keys).where(*where).order_by(order).limit(limit)
        if self._skip_locked:
            chosen = chosen.with_for_update(skip_locked=True)
        rows = (await self._session.execute(chosen)).all()
        if not rows:
            return 0
        # Deleted by the keys read, a separate statement: PostgreSQL plans ``IN (subquery with
        # LIMIT)`` as a join that scans the whole table, but a list of keys as index lookups.
        if len(keys) == 1:
            condition = keys[0].in_([row[0] for row in rows])
        else:
            condition = tuple_(*keys).in_([tuple(row) for row in rows])
        result = await self._session.execute(
            delete(table).where(condition).execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
