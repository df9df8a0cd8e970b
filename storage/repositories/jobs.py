"""Queued jobs: claimed in order per conversation and lane, under fenced leases.

Order comes from the claim query alone, so it holds whatever the number of worker
processes: a job is claimable only when no *blocking* job of its conversation and lane,
earlier by ``(seq, arrival, id)``, is still pending (running or waiting for its retry). A claim
gives the job a new ``lease_token``; every outcome is recorded ``WHERE lease_token`` is
still that token, so a worker whose lease ran out and was taken over records nothing.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TextualSelect

from bridge.jobs import ARRIVALS_PER_WEBHOOK, Job, JobState, Lane
from bridge.ports import ClaimedJob, FailedJob, FailureCount, JobCounts, LaneQueue, QueuedJob
from storage.db import json_text
from storage.models import JobEntry, UTCDateTime
from storage.notify import JOBS
from storage.repositories.base import Repository, among

__all__ = ["SqlJobs", "micros"]

_PENDING, _DONE, _FAILED = JobState.PENDING.value, JobState.DONE.value, JobState.FAILED.value


#: A Core statement (on the table, not the class): a list of rows makes it an executemany.
_INSERT_MANY = insert(cast(Table, JobEntry.__table__))


_NOW = bindparam("now", type_=UTCDateTime())
#: One job, its id returned (each statement a message crosses is built once: building one
#: cost more than running it).
_INSERT_ONE = insert(cast(Table, JobEntry.__table__)).returning(JobEntry.id)
_MINE = (
    JobEntry.id == bindparam("job_id"),
    JobEntry.lease_token == bindparam("token"),
    JobEntry.state == _PENDING,
)
#: Outcomes written only under the claim's lease (``_fenced`` for the rarer ones).
_CORE: Final = {"synchronize_session": False}  # no ORM objects of these rows to refresh
_CALL_STARTED = update(JobEntry).where(*_MINE).values(call_started=True).execution_options(**_CORE)
_FINISH = (
    update(JobEntry)
    .where(*_MINE)
    .values(state=_DONE, finished_at=_NOW, locked_until=None, lease_token=None)
    .execution_options(**_CORE)
)


#: PostgreSQL: many jobs as one array per column, sent in binary (``Repository._binary``):
#: one short statement whose text never changes, and no parse of the rows on either side
#: (one JSON array of rows cost the server a third of the insert to read). The rows are
#: inserted in the arrays' order, so they take their ids in that order, which orders ties.
_INSERT_ARRAYS: Final = (  # 'pending' is JobState.PENDING
    "INSERT INTO jobs (uid, conversation_id, lane, job_type, payload, blocking, seq, arrival,"
    " collapse_key, state, attempts, not_before, call_started, created_at)"
    " SELECT u, c, l, t, p::json, b, s, a, k, 'pending', 0, coalesce(n, %(now)b), false,"
    " %(now)b FROM unnest(%(uid)b::text[], %(conversation)b::bigint[], %(lane)b::text[],"
    " %(type)b::text[], %(payload)b::text[], %(blocking)b::bool[], %(seq)b::bigint[],"
    " %(arrival)b::bigint[], %(key)b::text[], %(not_before)b::timestamptz[])"
    " WITH ORDINALITY AS r(u, c, l, t, p, b, s, a, k, n, o) ORDER BY o"
)


_CLAIMED = (
    JobEntry.id,
    JobEntry.uid,
    JobEntry.conversation_id,
    JobEntry.lane,
    JobEntry.job_type,
    JobEntry.payload,
    JobEntry.attempts,
    JobEntry.created_at,
    JobEntry.failing_since,
    JobEntry.call_started,
)


#: One lane's share of a claim: its due jobs, oldest first, up to ``limit_<lane>``.
#:
#: The lane's pending jobs are walked in the order they are taken (``ix_jobs_pending_lane_id``)
#: and the walk stops at the limit, so a claim costs the same at any backlog. Read by
#: ``not_before`` and sorted, every due job was read on every claim: 1.5 ms a claim on SQLite
#: and 25 ms on PostgreSQL at a few thousand due jobs, one claim per commit, so a backlog
#: slowed the very work that drains it. SQLite's planner still prefers the index on
#: ``not_before``, so it is told (``INDEXED BY``); PostgreSQL's takes the walk once it expects
#: most candidates to pass (below).
#:
#: The first condition, an earlier blocking job of the same conversation and lane, is one
#: index probe per candidate, whatever the planner knows: as ``NOT EXISTS``, PostgreSQL could
#: turn it into an anti-join that compares every pending job with every other (11 s at 6,000
#: pending jobs, before a new table's first statistics). It is written as ``coalesce(…, TRUE)``
#: rather than ``(…) IS NULL``: PostgreSQL guesses that half of the candidates pass a boolean
#: it cannot read, but that one in 200 is NULL, and with that guess it sorted every due job
#: rather than walk a few. A job of no conversation (account news) matches no other: NULL =
#: NULL is never true, on SQLite as on PostgreSQL, so it waits for nothing.
#:
#: The second makes work caused by a webhook wait for the webhooks stored before it that are
#: still being read: with several workers, an earlier message of the same customer may be in
#: one of them, its job not queued yet (rows that failed once wait for their retry and hold
#: up nothing). A job caused by no webhook (arrival below one webhook's span) waits for none.
#: The earliest unread webhook is one value for the whole statement.
_PICK: Final = """
    SELECT jobs.id FROM jobs{indexed}
    WHERE jobs.state = 'pending' AND jobs.lane = '{lane}'
      AND jobs.not_before <= :now
      AND (jobs.locked_until IS NULL OR jobs.locked_until < :now)
      AND coalesce((
           SELECT FALSE FROM jobs AS earlier
           WHERE earlier.state = 'pending'
             AND earlier.conversation_id = jobs.conversation_id
             AND earlier.lane = jobs.lane
             AND earlier.blocking = TRUE
             AND (earlier.seq, earlier.arrival, earlier.id) < (jobs.seq, jobs.arrival, jobs.id)
           LIMIT 1), TRUE)
      AND jobs.arrival < coalesce(
            (SELECT min(webhook_inbox.id) FROM webhook_inbox
             WHERE webhook_inbox.state = 'pending' AND webhook_inbox.attempts = 0)
            * {per_webhook} + {per_webhook},
            jobs.arrival + 1)
    ORDER BY jobs.id
    LIMIT :limit_{lane}{lock}"""


def _pick_sql(lane: Lane, *, postgres: bool) -> str:
    pick = _PICK.format(
        lane=lane.value,
        per_webhook=ARRIVALS_PER_WEBHOOK,
        lock=" FOR UPDATE OF jobs SKIP LOCKED" if postgres else "",
        indexed="" if postgres else " INDEXED BY ix_jobs_pending_lane_id",
    )
    return f"SELECT id FROM ({pick}) AS pick_{lane.value}"  # noqa: S608


@functools.cache
def _claim_statement(lanes: tuple[str, ...], postgres: bool) -> TextualSelect:
    """The claim as one statement for these lanes, written out once: each lane's ids picked up
    to its own limit, leased, and returned as leased (``attempts`` already counts this try).
    As text: SQLAlchemy spent more on this statement's cache key, on every run, than the
    database spent running it. The states are literals, so a plan may use partial indexes."""
    # Only our own constants are written into the text (the lanes are Lane values); every
    # value that varies is a bound parameter.
    picks = " UNION ALL ".join(_pick_sql(Lane(lane), postgres=postgres) for lane in lanes)
    if postgres:
        # The ids as one array, so the rows are found by their key whatever the planner
        # knows (as IN, it may join against a scan of the whole table).
        ids = f"(SELECT array_agg(id) FROM ({picks}) AS picked)"  # noqa: S608
        chosen = f"jobs.id = ANY(CAST({ids} AS BIGINT[]))"
    else:
        chosen = f"jobs.id IN ({picks})"
    return (
        text(
            "UPDATE jobs SET attempts = jobs.attempts + 1, lease_token = :token,"  # noqa: S608
            f" locked_until = :until WHERE {chosen}"
            " RETURNING jobs.id, jobs.uid, jobs.conversation_id, jobs.lane, jobs.job_type,"
            " jobs.payload, jobs.attempts, jobs.created_at, jobs.failing_since, jobs.call_started"
        )
        .bindparams(
            bindparam("now", type_=UTCDateTime()),
            bindparam("until", type_=UTCDateTime()),
            *(bindparam(f"limit_{lane}", type_=Integer()) for lane in lanes),
        )
        .columns(*(column for column in _CLAIMED))
    )


def _uids(count: int) -> list[str]:
    """``count`` random job uids (32 hex digits) from one read of the system's randomness:
    a ``uuid4`` each read it anew, 4 µs a job for the thousands a window scan queues."""
    pool = os.urandom(16 * count).hex()
    return [pool[start : start + 32] for start in range(0, 32 * count, 32)]


def _due_in(not_before: datetime | None, now: datetime) -> float:
    """Seconds until a job queued ``now`` falls due (0: at once)."""
    return 0.0 if not_before is None else (not_before - now).total_seconds()


def micros(moment: datetime) -> int:
    """A moment as whole microseconds since the epoch (exact, unlike a float)."""
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _failed(entry: JobEntry) -> FailedJob:
    return FailedJob(
        id=entry.id,
        conversation_id=entry.conversation_id,
        lane=Lane(entry.lane),
        job_type=entry.job_type,
        payload=dict(entry.payload),
        attempts=entry.attempts,
        queued_at=entry.created_at,
        failed_at=entry.finished_at,
        reason=entry.failure_reason or "unknown",
        error=entry.last_error or "",
    )


class SqlJobs(Repository):
    @staticmethod
    def _row(
        job: Job, *, now: datetime, seq: datetime, arrival: int, not_before: datetime
    ) -> dict[str, Any]:
        return {
            "uid": uuid.uuid4().hex,
            "conversation_id": job.conversation_id,
            "lane": job.LANE.value,
            "job_type": job.TYPE,
            "payload": job,  # written by the column's serializer
            "blocking": job.BLOCKING,
            "seq": micros(seq),
            "arrival": arrival,
            "state": _PENDING,
            "attempts": 0,
            "not_before": not_before,
            "call_started": False,
            "created_at": now,
        }

    async def enqueue(
        self,
        job: Job,
        *,
        now: datetime,
        seq: datetime | None = None,
        arrival: int = 0,
        not_before: datetime | None = None,
        collapse_key: str | None = None,
    ) -> int:
        self._work_stored(JOBS, due_in=_due_in(not_before, now))
        row = self._row(job, now=now, seq=seq or now, arrival=arrival, not_before=not_before or now)
        row["collapse_key"] = collapse_key
        return int((await self._core(_INSERT_ONE, row)).scalar_one())

    async def enqueue_many(self, jobs: Sequence[QueuedJob], *, now: datetime) -> None:
        if not jobs:
            return
        for due_in in {_due_in(q.not_before, now) for q in jobs}:
            self._work_stored(JOBS, due_in=due_in)
        if self._postgres:
            uids = _uids(len(jobs))
            await self._binary(
                _INSERT_ARRAYS,
                {
                    "uid": uids,
                    "conversation": [q.job.conversation_id for q in jobs],
                    "lane": [q.job.LANE.value for q in jobs],
                    "type": [q.job.TYPE for q in jobs],
                    "payload": [json_text(q.job) for q in jobs],
                    "blocking": [q.job.BLOCKING for q in jobs],
                    "seq": [micros(q.seq) for q in jobs],
                    "arrival": [q.arrival for q in jobs],
                    "key": [q.collapse_key for q in jobs],
                    "not_before": [q.not_before for q in jobs],
                    "now": now,
                },
            )
            return
        rows = [
            self._row(q.job, now=now, seq=q.seq, arrival=q.arrival, not_before=q.not_before or now)
            | {"collapse_key": q.collapse_key, "uid": uid}
            for q, uid in zip(jobs, _uids(len(jobs)), strict=True)
        ]
        # One compiled statement for many rows (the driver sends them as one multi-row
        # INSERT); they take their ids in this order, which orders ties.
        await self._core(_INSERT_MANY, rows)

    async def enqueue_collapsed(self, job: Job, *, key: str, now: datetime) -> bool:
        if not 0 < len(key) <= 64:
            raise ValueError("a collapse key has 1 to 64 characters")
        query = (
            select(JobEntry.id)
            .where(
                JobEntry.state == _PENDING,
                JobEntry.collapse_key == key,
                or_(JobEntry.locked_until.is_(None), JobEntry.locked_until < now),
            )
            .limit(1)
        )
        if self._skip_locked:
            # Locked till this transaction ends, a claim skips it (and takes it once what it
            # must show is committed); a claim a moment earlier makes it no longer match.
            query = query.with_for_update()
        if await self._session.scalar(query) is not None:
            return False
        await self.enqueue(job, now=now, collapse_key=key)
        return True

    async def enqueue_collapsed_many(
        self, jobs: Sequence[tuple[Job, str]], *, now: datetime
    ) -> int:
        keys = {key for _, key in jobs}
        if any(not 0 < len(key) <= 64 for key in keys):
            raise ValueError("a collapse key has 1 to 64 characters")
        if not keys:
            return 0
        query = select(JobEntry.collapse_key).where(
            JobEntry.state == _PENDING,
            among(JobEntry.collapse_key, "keys", postgres=self._postgres),
            or_(JobEntry.locked_until.is_(None), JobEntry.locked_until < now),
        )
        if self._skip_locked:  # as enqueue_collapsed
            query = query.order_by(JobEntry.id).with_for_update()
        waiting = set(await self._session.scalars(query, {"keys": sorted(keys)}))
        queued: list[QueuedJob] = []
        for job, key in jobs:
            if key not in waiting:
                waiting.add(key)
                queued.append(QueuedJob(job=job, seq=now, collapse_key=key))
        await self.enqueue_many(queued, now=now)
        return len(queued)

    async def enqueue_keyed(self, job: Job, *, key: str, now: datetime) -> bool:
        self._work_stored(JOBS)
        if not 0 < len(key) <= 32:
            raise ValueError("a job key has 1 to 32 characters")
        # One statement: the unique uid decides, even between processes.
        statement = (
            self._insert(JobEntry)
            .values(
                uid=key,
                conversation_id=job.conversation_id,
                lane=job.LANE.value,
                job_type=job.TYPE,
                payload=job,
                blocking=job.BLOCKING,
                seq=micros(now),
                arrival=0,
                state=_PENDING,
                attempts=0,
                not_before=now,
                call_started=False,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[JobEntry.uid])
            .returning(JobEntry.id)
        )
        return (await self._session.scalars(statement)).one_or_none() is not None

    async def enqueue_once(
        self, job: Job, *, now: datetime, seq: datetime | None = None, arrival: int = 0
    ) -> bool:
        """Queue ``job`` unless the same job waits unclaimed already (it will read what is
        current when it runs); True if queued."""
        waiting = await self._session.scalar(
            select(JobEntry.id)
            .where(
                JobEntry.state == _PENDING,
                JobEntry.conversation_id == job.conversation_id,
                JobEntry.job_type == job.TYPE,
                or_(JobEntry.locked_until.is_(None), JobEntry.locked_until < now),
            )
            .limit(1)
        )
        if waiting is not None:
            return False
        await self.enqueue(job, now=now, seq=seq, arrival=arrival)
        return True

    async def claim(
        self, *, now: datetime, limits: Mapping[Lane, int], lease: timedelta
    ) -> list[ClaimedJob]:
        wanted = {lane.value: limit for lane, limit in limits.items() if limit > 0}
        if not wanted:
            return []
        token = uuid.uuid4().hex
        params: dict[str, Any] = {"now": now, "token": token, "until": now + lease}
        params.update({f"limit_{lane}": limit for lane, limit in wanted.items()})
        statement = _claim_statement(tuple(sorted(wanted)), self._postgres)
        rows = (await self._core(statement, params)).all()
        return [
            ClaimedJob(
                id=r.id,
                uid=r.uid,
                conversation_id=r.conversation_id,
                lane=Lane(r.lane),
                job_type=r.job_type,
                payload=dict(r.payload),
                attempt=r.attempts,
                queued_at=r.created_at,
                failing_since=r.failing_since,
                call_started=r.call_started,
                lease_token=token,
            )
            for r in sorted(rows, key=lambda r: r.id)
        ]

    async def _fenced(self, job_id: int, token: str, **values: Any) -> bool:
        result = await self._session.execute(
            update(JobEntry)
            .where(
                JobEntry.id == job_id,
                JobEntry.lease_token == token,
                JobEntry.state == _PENDING,
            )
            .values(**values)
        )
        return self._changed(result)

    async def extend(self, job_id: int, token: str, *, until: datetime) -> bool:
        return await self._fenced(job_id, token, locked_until=until)

    async def mark_call_started(self, job_id: int, token: str) -> bool:
        result = await self._core(_CALL_STARTED, {"job_id": job_id, "token": token})
        return self._changed(result)

    async def finish(self, job_id: int, token: str, *, now: datetime) -> bool:
        result = await self._core(_FINISH, {"job_id": job_id, "token": token, "now": now})
        return self._changed(result)

    async def retry(
        self,
        job_id: int,
        token: str,
        *,
        not_before: datetime,
        failing_since: datetime,
        reason: str,
        error: str,
    ) -> bool:
        # The failure was an answer, so no call is left in doubt.
        return await self._fenced(
            job_id,
            token,
            not_before=not_before,
            locked_until=None,
            lease_token=None,
            call_started=False,
            failing_since=failing_since,
            failure_reason=reason[:64],
            last_error=error[:2000],
        )

    async def release(self, job_id: int, token: str, *, not_before: datetime) -> bool:
        return await self._fenced(
            job_id,
            token,
            not_before=not_before,
            locked_until=None,
            lease_token=None,
            call_started=False,
            attempts=JobEntry.attempts - 1,
        )

    async def fail(
        self, job_id: int, token: str, *, now: datetime, reason: str, error: str
    ) -> bool:
        return await self._fenced(
            job_id,
            token,
            state=_FAILED,
            finished_at=now,
            locked_until=None,
            lease_token=None,
            failure_reason=reason[:64],
            last_error=error[:2000],
        )

    async def counts(self, *, now: datetime) -> JobCounts:
        running = and_(JobEntry.locked_until.is_not(None), JobEntry.locked_until >= now)
        due = and_(~running, JobEntry.not_before <= now)

        def count_of(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        row = (
            await self._session.execute(
                select(func.count(), count_of(due), count_of(running)).where(
                    JobEntry.state == _PENDING
                )
            )
        ).one()
        pending, due_count, running_count = (int(v or 0) for v in row)
        return JobCounts(
            pending=pending,
            due=due_count,
            running=running_count,
            waiting=pending - due_count - running_count,
        )

    async def lane_queues(self, *, now: datetime) -> list[LaneQueue]:
        running = and_(JobEntry.locked_until.is_not(None), JobEntry.locked_until >= now)
        due = and_(~running, JobEntry.not_before <= now)
        rows = await self._session.execute(
            select(JobEntry.lane, func.count(), func.min(case((due, JobEntry.not_before))))
            .where(JobEntry.state == _PENDING)
            .group_by(JobEntry.lane)
        )
        return [
            LaneQueue(lane=Lane(lane), pending=int(count), oldest_due=oldest)
            for lane, count, oldest in rows.all()
        ]

    async def failure_counts(self) -> list[FailureCount]:
        return await self._by_reason(JobEntry.state == _FAILED)

    async def retrying_counts(self) -> list[FailureCount]:
        return await self._by_reason(
            JobEntry.state == _PENDING, JobEntry.failing_since.is_not(None)
        )

    async def _by_reason(self, *where: ColumnElement[bool]) -> list[FailureCount]:
        """The jobs ``where`` says, counted by type and (last) failure reason."""
        rows = await self._session.execute(
            select(JobEntry.job_type, JobEntry.failure_reason, func.count())
            .where(*where)
            .group_by(JobEntry.job_type, JobEntry.failure_reason)
        )
        return [
            FailureCount(kind=job_type, reason=reason or "unknown", count=int(count))
            for job_type, reason, count in rows.all()
        ]

    async def failed(self, *, limit: int) -> list[FailedJob]:
        rows = await self._session.scalars(
            select(JobEntry)
            .where(JobEntry.state == _FAILED)
            .order_by(JobEntry.id.desc())
            .limit(limit)
        )
        return [_failed(r) for r in rows]

    async def get_failed(self, job_id: int) -> FailedJob | None:
        entry = await self._session.scalar(
            select(JobEntry).where(JobEntry.id == job_id, JobEntry.state == _FAILED)
        )
        return None if entry is None else _failed(entry)

    async def replay(self, job_id: int, *, now: datetime) -> bool:
        self._work_stored(JOBS)
        # ``seq`` stays: a replayed job takes its old place, before anything queued since.
        result = await self._session.execute(
            update(JobEntry)
            .where(JobEntry.id == job_id, JobEntry.state == _FAILED)
            .values(
                state=_PENDING,
                attempts=0,
                not_before=now,
                lease_token=None,
                locked_until=None,
                call_started=False,
                failing_since=None,
                failure_reason=None,
                finished_at=None,
            )
        )
        return self._changed(result)
