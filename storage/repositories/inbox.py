"""The webhook inbox: raw bodies stored before Meta's 200, processed in order, kept if they fail."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import (
    Integer,
    Table,
    TextualSelect,
    Update,
    bindparam,
    func,
    select,
    text,
    update,
)

from bridge.jobs import JobState
from bridge.ports import DeadWebhook, FailureCount, InboxRow, NewWebhook
from storage.models import InboxEntry, UTCDateTime, sqlite_time
from storage.notify import INBOX
from storage.repositories.base import Repository, among

__all__ = ["SqlInbox"]

_PENDING, _DONE, _FAILED = JobState.PENDING.value, JobState.DONE.value, JobState.FAILED.value


def _dead(entry: InboxEntry) -> DeadWebhook:
    return DeadWebhook(
        id=entry.id,
        received_at=entry.received_at,
        attempts=entry.attempts,
        reason=entry.failure_reason or "unknown",
        error=entry.last_error or "",
        body=entry.body,
    )


_TABLE: Final = cast(Table, InboxEntry.__table__)
#: PostgreSQL: the bodies and their times as two arrays, in one short statement whose text
#: never changes (psycopg would parse a many-row VALUES list anew for every group size), sent
#: in binary (``%b``): as text, every body would be escaped into an array literal, at four
#: times the CPU. The rows are inserted in the arrays' order, so their ids rise in that order.
_INSERT_ARRAYS: Final = (  # 'pending' is JobState.PENDING
    "INSERT INTO webhook_inbox (body, received_at, state, attempts, not_before)"
    " SELECT b, r, 'pending', 0, r FROM unnest(%b::bytea[], %b::timestamptz[])"
    " WITH ORDINALITY AS t(b, r, n) ORDER BY n RETURNING id"
)


#: SQLite: the most rows one insert takes (three values each, within the 999 variables older
#: SQLite builds allow a statement); the webhook route's groups are smaller.
_SQLITE_ROWS: Final = 250


@functools.cache
def _sqlite_insert(rows: int) -> str:
    """SQLite: ``rows`` bodies in one statement, each with its time as received and as due.
    The ids rise in the order of the rows (one statement, one writer)."""
    values = ", ".join(["(?, ?, 'pending', 0, ?)"] * rows)  # 'pending' is JobState.PENDING
    columns = "webhook_inbox (body, received_at, state, attempts, not_before)"
    return f"INSERT INTO {columns} VALUES {values} RETURNING id"  # noqa: S608 (placeholders only)


_NOW: Final = bindparam("now", type_=UTCDateTime())


#: The claim reads two kinds of pending webhook, each from a partial index of its own, so
#: that neither kind's backlog is walked to reach the other: webhooks to be read again later
#: (a status before its send, a failed try; ``ix_webhook_inbox_waiting``, by when they are
#: due), then new ones (``ix_webhook_inbox_fresh``, in the order they came). Read by
#: ``(state, id)`` and filtered on ``not_before``, a claim walked every webhook waiting to be
#: read again before reaching a new one: 7.6 ms at 20,000 of them on SQLite, on every claim,
#: just when a flood of statuses for another app's messages kept them waiting. SQLite's
#: planner is told which index to use; the states are written out, so that the partial
#: indexes apply.
_CLAIM: Final = (
    "SELECT id, body, attempts, received_at FROM webhook_inbox{index}"
    " WHERE state = 'pending' AND {kind} AND not_before <= :now ORDER BY {order} LIMIT :limit"
)


@functools.cache
def _claim_statement(postgres: bool, *, waiting: bool) -> TextualSelect:
    """The claim of the webhooks to be read again (``waiting``) or of the new ones."""
    index, kind, order = (
        ("ix_webhook_inbox_waiting", "attempts > 0", "not_before")
        if waiting
        else ("ix_webhook_inbox_fresh", "attempts = 0", "id")
    )
    sql = _CLAIM.format(index="" if postgres else f" INDEXED BY {index}", kind=kind, order=order)
    if postgres:
        sql += " FOR UPDATE SKIP LOCKED"
    return (
        text(sql)
        .bindparams(bindparam("now", type_=UTCDateTime()), bindparam("limit", type_=Integer()))
        .columns(_TABLE.c.id, _TABLE.c.body, _TABLE.c.attempts, _TABLE.c.received_at)
    )


@functools.cache
def _done_statement(postgres: bool) -> Update:
    return (
        update(_TABLE)
        .where(among(_TABLE.c.id, "ids", postgres=postgres))
        .values(state=_DONE, processed_at=_NOW, attempts=_TABLE.c.attempts + 1)
    )


@functools.cache
def _retry_statement(postgres: bool) -> Update:
    return (
        update(_TABLE)
        .where(among(_TABLE.c.id, "ids", postgres=postgres))
        .values(
            attempts=_TABLE.c.attempts + 1,
            last_error=bindparam("error"),
            not_before=bindparam("not_before", type_=UTCDateTime()),
        )
    )


#: A dead webhook queued again: a fresh start (its last error stays, for the record).
_REQUEUED: Final = {"state": _PENDING, "attempts": 0, "failure_reason": None, "processed_at": None}


class SqlInbox(Repository):
    async def store(self, body: bytes, *, received_at: datetime, dead_reason: str | None) -> int:
        self._work_stored(INBOX)
        entry = InboxEntry(
            body=body,
            received_at=received_at,
            state=_FAILED if dead_reason else _PENDING,
            attempts=0,
            not_before=received_at,
            failure_reason="unparseable" if dead_reason else None,
            last_error=dead_reason,
        )
        self._session.add(entry)
        await self._session.flush()
        return entry.id

    async def store_many(self, webhooks: Sequence[NewWebhook]) -> list[int]:
        if not webhooks:
            return []
        self._work_stored(INBOX)
        if self._postgres:
            arrays = (
                [w.body for w in webhooks],
                [w.received_at.astimezone(UTC) for w in webhooks],
            )
            return sorted(row[0] for row in await self._binary(_INSERT_ARRAYS, arrays))
        ids: list[int] = []
        for start in range(0, len(webhooks), _SQLITE_ROWS):
            chunk = webhooks[start : start + _SQLITE_ROWS]
            values: list[Any] = []
            for webhook in chunk:
                received_at = sqlite_time(webhook.received_at)
                values += (webhook.body, received_at, received_at)
            ids += sorted(row[0] for row in await self._plain(_sqlite_insert(len(chunk)), values))
        return ids

    async def claim(self, *, now: datetime, limit: int) -> list[InboxRow]:
        """Webhooks due to be read again first (they came first), then new ones."""
        rows = await self._claim(now=now, limit=limit, waiting=True)
        if len(rows) < limit:
            rows += await self._claim(now=now, limit=limit - len(rows), waiting=False)
        return [
            InboxRow(id=r.id, body=r.body, attempts=r.attempts, received_at=r.received_at)
            for r in rows
        ]

    async def _claim(self, *, now: datetime, limit: int, waiting: bool) -> list[Any]:
        statement = _claim_statement(self._postgres, waiting=waiting)
        return list((await self._core(statement, {"now": now, "limit": limit})).all())

    async def reclaim(self, row_id: int) -> InboxRow | None:
        query = select(InboxEntry).where(InboxEntry.id == row_id, InboxEntry.state == _PENDING)
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        row = await self._session.scalar(query)
        return None if row is None else _row(row)

    async def done_many(self, row_ids: Collection[int], *, now: datetime) -> None:
        await self._core(_done_statement(self._postgres), {"ids": list(row_ids), "now": now})

    async def retry(self, row_ids: Collection[int], *, error: str, not_before: datetime) -> None:
        await self._core(
            _retry_statement(self._postgres),
            {"ids": list(row_ids), "error": error[:2000], "not_before": not_before},
        )

    async def fail(self, row_id: int, *, reason: str, error: str, now: datetime) -> None:
        await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == row_id)
            .values(
                state=_FAILED,
                attempts=InboxEntry.attempts + 1,
                failure_reason=reason[:64],
                last_error=error[:2000],
                processed_at=now,
            )
        )

    async def depth(self) -> int:
        count = await self._session.scalar(
            select(func.count()).select_from(InboxEntry).where(InboxEntry.state == _PENDING)
        )
        return int(count or 0)

    async def oldest_pending_received_at(self) -> datetime | None:
        # The lowest pending id is the oldest arrival: one step along (state, id).
        return await self._session.scalar(
            select(InboxEntry.received_at)
            .where(InboxEntry.state == _PENDING)
            .order_by(InboxEntry.id)
            .limit(1)
        )

    async def failure_counts(self) -> list[FailureCount]:
        rows = await self._session.execute(
            select(InboxEntry.failure_reason, func.count())
            .where(InboxEntry.state == _FAILED)
            .group_by(InboxEntry.failure_reason)
        )
        return [
            FailureCount(kind="webhook", reason=reason or "unknown", count=int(count))
            for reason, count in rows.all()
        ]

    async def failed(self, *, limit: int) -> list[DeadWebhook]:
        rows = await self._session.scalars(
            select(InboxEntry)
            .where(InboxEntry.state == _FAILED)
            .order_by(InboxEntry.id.desc())
            .limit(limit)
        )
        return [_dead(r) for r in rows]

    async def get_failed(self, row_id: int) -> DeadWebhook | None:
        entry = await self._session.scalar(
            select(InboxEntry).where(InboxEntry.id == row_id, InboxEntry.state == _FAILED)
        )
        return None if entry is None else _dead(entry)

    async def replay(self, row_id: int, *, now: datetime) -> bool:
        self._work_stored(INBOX)
        result = await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == row_id, InboxEntry.state == _FAILED)
            .values(not_before=now, **_REQUEUED)
        )
        return self._changed(result)

    async def replay_failed(self, *, reason: str, now: datetime) -> int:
        """Queue again every dead webhook set aside for ``reason``; how many."""
        self._work_stored(INBOX)
        result = await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.state == _FAILED, InboxEntry.failure_reason == reason)
            .values(not_before=now, **_REQUEUED)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def last_received_at(self) -> datetime | None:
        """When the newest webhook arrived (any state)."""
        return await self._session.scalar(select(func.max(InboxEntry.received_at)))


def _row(entry: InboxEntry) -> InboxRow:
    return InboxRow(
        id=entry.id, body=entry.body, attempts=entry.attempts, received_at=entry.received_at
    )
