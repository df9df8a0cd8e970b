"""Storage on a real database: the migration, units of work, and claiming work."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection, make_url

import storage.db
from bridge.domain import (
    AccountEventKind,
    Direction,
    MessageStatus,
    Notice,
    NoticeKind,
    OperatorNotice,
    SenderType,
)
from bridge.jobs import (
    Job,
    Lane,
    PostCustomerMessage,
    PostNotice,
    PostOperatorNotice,
    SendReply,
    ShowDelivery,
    decode,
    encode,
)
from bridge.ports import ClaimedJob, NewMessage, NewWebhook, QueuedJob
from storage.db import create_engine, migrate, schema_is_current
from storage.models import Base, JobEntry, Message
from storage.uow import SqlUnitOfWorkFactory
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0
from tests.unit.core.test_jobs import EXAMPLES as JOB_EXAMPLES

LEASE = timedelta(seconds=15)


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_the_migration_creates_exactly_the_models(fresh_database_url: str) -> None:
    migrate(fresh_database_url)
    migrate(fresh_database_url)  # running it again is harmless
    engine = create_engine(fresh_database_url)
    try:
        assert await schema_is_current(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_leaving_without_commit_rolls_back(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
    async with uow_factory() as uow:
        assert await uow.inbox.depth() == 0


async def _conversation(uow_factory: SqlUnitOfWorkFactory, contact: str = "111") -> int:
    async with uow_factory() as uow:
        conversation = await uow.conversations.get_or_create(
            phone_number_id="P1",
            display_phone_number="1555",
            contact_id=contact,
            contact_name="Ann",
            slack_channel="C1",
            now=T0,
        )
        await uow.commit()
    return conversation.id


def _inbound(conversation_id: int, wamid: str, **content: str) -> NewMessage:
    """A customer's message, as the inbox stores it."""
    return NewMessage(
        conversation_id=conversation_id,
        direction=Direction.INBOUND,
        sender_type=SenderType.CONTACT,
        message_type="text" if "text" in content else "image",
        content=dict(content),
        status=MessageStatus.RECEIVED,
        created_at=T0,
        wamid=wamid,
    )


async def test_a_wamid_is_stored_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    conversation_id = await _conversation(uow_factory)
    message = _inbound(conversation_id, "wamid.X", text="hi")
    async with uow_factory() as uow:
        assert await uow.messages.add(message) is not None
        assert await uow.messages.add(message) is None
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.messages.by_wamid("wamid.X")
    assert stored is not None and stored.created_at == T0  # times come back UTC-aware


async def test_a_read_past_the_session_sees_what_the_session_has_not_flushed_yet(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """The hot statements run on the transaction's connection, past the ORM session: while
    the session holds a change it has not written yet, they go through it, so it is written
    first and they see it."""
    conversation_id = await _conversation(uow_factory)
    async with uow_factory() as uow:
        added = await uow.messages.add(_inbound(conversation_id, "wamid.IMG", media_id="M1"))
        assert added is not None
        # Changed on the session's object of the row (as the ORM paths of the repositories
        # do), not written yet...
        session = uow.messages._session
        row = await session.get(Message, added.id)
        assert row is not None
        row.content = {**row.content, "relay": {"file_id": "F1", "shared": False}}
        assert session.dirty
        # ...and read with a statement past the session.
        found = await uow.messages.with_conversation(added.id, conversation_id)
        assert found is not None
        assert found[0].content["relay"] == {"file_id": "F1", "shared": False}
        await uow.commit()


async def _enqueue(uow_factory: SqlUnitOfWorkFactory, *jobs: Job, seq: datetime = T0) -> None:
    async with uow_factory() as uow:
        for job in jobs:
            await uow.jobs.enqueue(job, now=T0, seq=seq)
        await uow.commit()


async def _claim(uow_factory: SqlUnitOfWorkFactory, limit: int = 10) -> list[ClaimedJob]:
    async with uow_factory() as uow:
        claimed = await uow.jobs.claim(now=T0, limits=dict.fromkeys(Lane, limit), lease=LEASE)
        await uow.commit()
    return claimed


async def test_claims_take_only_the_head_of_each_conversation_and_lane(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first, second = await _conversation(uow_factory, "111"), await _conversation(uow_factory, "222")
    await _enqueue(
        uow_factory,
        PostCustomerMessage(conversation_id=first, message_id=1),
        PostCustomerMessage(conversation_id=first, message_id=2),
        SendReply(conversation_id=first, message_id=3),  # another lane: not held up
        PostCustomerMessage(conversation_id=second, message_id=4),
    )
    claimed = await _claim(uow_factory)
    assert sorted((j.conversation_id, j.payload["message_id"]) for j in claimed) == [
        (first, 1),
        (first, 3),
        (second, 4),
    ]
    assert await _claim(uow_factory) == []  # claimed jobs are leased: nobody else takes them


async def test_cosmetic_jobs_never_hold_up_what_comes_after_them(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    conversation = await _conversation(uow_factory)
    await _enqueue(
        uow_factory,
        ShowDelivery(conversation_id=conversation, message_id=1),
        PostCustomerMessage(conversation_id=conversation, message_id=2),
        ShowDelivery(conversation_id=conversation, message_id=3),
    )
    claimed = await _claim(uow_factory)
    # The first display and the customer message run; the last display waits for the
    # customer message ahead of it.
    assert sorted(j.payload["message_id"] for j in claimed) == [1, 2]


async def test_order_within_a_lane_is_the_order_of_the_causes(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    conversation = await _conversation(uow_factory)
    await _enqueue(uow_factory, SendReply(conversation_id=conversation, message_id=2), seq=T0)
    await _enqueue(
        uow_factory,
        SendReply(conversation_id=conversation, message_id=1),
        seq=T0 - timedelta(seconds=1),
    )
    [claimed] = await _claim(uow_factory)
    assert claimed.payload["message_id"] == 1  # stored last, written first: it goes first


NEWS = PostOperatorNotice(
    channel="C0SUPPORT", notice=OperatorNotice(kind=AccountEventKind.QUALITY_DOWN, number="1")
)


async def test_account_news_belongs_to_no_conversation_and_waits_for_none(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    conversation = await _conversation(uow_factory)
    await _enqueue(
        uow_factory,
        PostCustomerMessage(conversation_id=conversation, message_id=1),
        PostCustomerMessage(conversation_id=conversation, message_id=2),
    )
    async with uow_factory() as uow:
        assert await uow.jobs.enqueue_keyed(NEWS, key="k" * 32, now=T0)
        assert await uow.jobs.enqueue_keyed(NEWS, key="n" * 32, now=T0)
        await uow.commit()
    claimed = await _claim(uow_factory)
    # Both notices run beside the conversation's head; neither waits nor holds anything up.
    assert sorted((j.job_type, j.conversation_id) for j in claimed) == [
        ("post_customer_message", conversation),
        ("post_operator_notice", None),
        ("post_operator_notice", None),
    ]
    async with uow_factory() as uow:
        for job in claimed:
            assert await uow.jobs.fail(job.id, job.lease_token, now=T0, reason="r", error="e")
        failed = await uow.jobs.failed(limit=5)
        await uow.commit()
    assert sorted(f.conversation_id or 0 for f in failed) == [0, 0, conversation]
    [next_one] = await _claim(uow_factory)  # failed notices never held up the conversation
    assert next_one.payload["message_id"] == 2


async def test_a_keyed_job_is_queued_once_whoever_queues_it(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.jobs.enqueue_keyed(NEWS, key="event-1", now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.jobs.enqueue_keyed(NEWS, key="event-1", now=T0)
        assert await uow.jobs.enqueue_keyed(NEWS, key="event-2", now=T0)
        await uow.commit()
    claimed = await _claim(uow_factory)
    assert sorted(j.uid for j in claimed) == ["event-1", "event-2"]
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="1 to 32"):
            await uow.jobs.enqueue_keyed(NEWS, key="x" * 33, now=T0)


async def test_jobs_queued_together_each_get_their_own_uid_and_payload(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    notices = [
        PostNotice(
            conversation_id=n,
            show_window=n % 2 == 0,
            notice=Notice(kind=NoticeKind.WINDOW_WARNING, window_expires_at=T0, suggestions=("a",)),
        )
        for n in range(1, 6)
    ]
    async with uow_factory() as uow:
        await uow.jobs.enqueue_many([QueuedJob(job=job, seq=T0) for job in notices], now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        claimed = await uow.jobs.claim(now=T0, limits={Lane.SLACK: 10}, lease=timedelta(seconds=5))
    read = sorted((decode(c.job_type, c.payload) for c in claimed), key=lambda j: j.conversation_id)
    assert read == notices
    uids = {c.uid for c in claimed}
    assert len(uids) == 5
    assert all(len(uid) == 32 and int(uid, 16) >= 0 for uid in uids)


def test_json_columns_take_what_the_fast_encoder_refuses() -> None:
    assert json.loads(storage.db.json_text({"n": 2**70, 1: "one"})) == {"n": 2**70, "1": "one"}
    assert json.loads(storage.db.json_text({"text": "ü 🙂", "ok": [True, None]})) == {
        "text": "ü 🙂",
        "ok": [True, None],
    }


@pytest.mark.parametrize("fast", [True, False], ids=["orjson", "standard library"])
def test_a_job_is_written_as_its_codec_writes_it(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not fast:  # as for a value orjson refuses
        monkeypatch.setattr(storage.db.orjson, "dumps", _refuse)
    for job in JOB_EXAMPLES:
        assert json.loads(storage.db.json_text(job)) == json.loads(json.dumps(encode(job)))


def _refuse(*args: object, **kwargs: object) -> bytes:
    raise TypeError("refused")


async def test_jobs_queued_together_come_back_as_they_were_queued(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Every job type, and the columns easiest to get wrong in bulk: no conversation, a
    collapse key or none, a due time or none, and the order they were given in."""
    queued = [
        QueuedJob(
            job=job,
            seq=T0 - timedelta(seconds=n),  # the ids follow the order given, not the seq
            arrival=n,
            collapse_key=f"key-{n}" if n % 2 else None,
            not_before=T0 + timedelta(minutes=n) if n % 3 else None,
        )
        for n, job in enumerate(JOB_EXAMPLES)
    ]
    async with uow_factory() as uow:
        await uow.jobs.enqueue_many(queued, now=T0)
        await uow.commit()
    async with uow_factory.engine.connect() as connection:
        rows = (await connection.execute(select(JobEntry).order_by(JobEntry.id))).all()
    assert [decode(r.job_type, r.payload) for r in rows] == [q.job for q in queued]
    assert [r.conversation_id for r in rows] == [q.job.conversation_id for q in queued]
    assert [(r.lane, r.blocking) for r in rows] == [
        (q.job.LANE.value, q.job.BLOCKING) for q in queued
    ]
    assert [r.collapse_key for r in rows] == [q.collapse_key for q in queued]
    assert [r.not_before for r in rows] == [q.not_before or T0 for q in queued]
    assert [r.arrival for r in rows] == [q.arrival for q in queued]
    assert {r.state for r in rows} == {"pending"}
    assert len({r.uid for r in rows}) == len(rows)


async def test_counters_add_up_across_transactions(uow_factory: SqlUnitOfWorkFactory) -> None:
    for amount in (1, 2):
        async with uow_factory() as uow:
            await uow.counters.add("statuses_unknown", amount)
            await uow.counters.add("other")
            await uow.commit()
    async with uow_factory() as uow:
        assert await uow.counters.all() == {"statuses_unknown": 3, "other": 2}


async def test_a_replayed_job_takes_its_old_place(uow_factory: SqlUnitOfWorkFactory) -> None:
    conversation = await _conversation(uow_factory)
    await _enqueue(uow_factory, PostCustomerMessage(conversation_id=conversation, message_id=1))
    [job] = await _claim(uow_factory)
    async with uow_factory() as uow:
        assert await uow.jobs.fail(job.id, job.lease_token, now=T0, reason="r", error="e")
        await uow.commit()
    await _enqueue(
        uow_factory,
        PostCustomerMessage(conversation_id=conversation, message_id=2),
        seq=T0 + timedelta(seconds=1),
    )
    async with uow_factory() as uow:
        assert await uow.jobs.replay(job.id, now=T0)
        await uow.commit()
    [again] = await _claim(uow_factory)
    assert again.id == job.id and again.attempt == 1


async def test_slack_event_ids_are_remembered(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.slack_events.remember("Ev1", now=T0) is True
        assert await uow.slack_events.remember("Ev1", now=T0) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.slack_events.remember("Ev1", now=T0) is False


@pytest.mark.skipif(not USE_POSTGRES, reason="row locks across processes are PostgreSQL's job")
async def test_two_workers_never_claim_the_same_webhook(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for _ in range(10):
            await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
        await uow.commit()
    async with uow_factory() as first, uow_factory() as second:
        mine = await first.inbox.claim(now=T0, limit=5)
        theirs = await second.inbox.claim(now=T0, limit=10)
    assert len(mine) == 5 and len(theirs) == 5
    assert not {r.id for r in mine} & {r.id for r in theirs}


@pytest.mark.skipif(not USE_POSTGRES, reason="row locks across processes are PostgreSQL's job")
async def test_two_job_workers_split_the_conversations(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ids = [await _conversation(uow_factory, str(n)) for n in range(4)]
    await _enqueue(
        uow_factory,
        *(PostCustomerMessage(conversation_id=c, message_id=n) for n, c in enumerate(ids)),
    )
    async with uow_factory() as first, uow_factory() as second:
        mine = await first.jobs.claim(now=T0, limits=dict.fromkeys(Lane, 2), lease=LEASE)
        theirs = await second.jobs.claim(now=T0, limits=dict.fromkeys(Lane, 4), lease=LEASE)
    assert len(mine) == 2 and len(theirs) == 2
    assert not {i.id for i in mine} & {i.id for i in theirs}


@pytest.mark.skipif(not USE_POSTGRES, reason="row locks across processes are PostgreSQL's job")
async def test_a_second_worker_never_takes_a_job_behind_one_being_claimed(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    conversation = await _conversation(uow_factory)
    await _enqueue(
        uow_factory,
        PostCustomerMessage(conversation_id=conversation, message_id=1),
        PostCustomerMessage(conversation_id=conversation, message_id=2),
    )
    async with uow_factory() as first, uow_factory() as second:
        mine = await first.jobs.claim(now=T0, limits=dict.fromkeys(Lane, 5), lease=LEASE)
        theirs = await second.jobs.claim(now=T0, limits=dict.fromkeys(Lane, 5), lease=LEASE)
    assert [j.payload["message_id"] for j in mine] == [1]
    assert theirs == []


async def test_webhooks_stored_together_each_get_the_id_of_their_own_row(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    # Any bytes, as they came: NUL, invalid UTF-8, not JSON (the inbox worker judges them).
    bodies = [f'{{"n": {n}}}'.encode() for n in range(30)] + [b"\x00\xff not json"]
    webhooks = [
        NewWebhook(body=b, received_at=T0 + timedelta(seconds=n)) for n, b in enumerate(bodies)
    ]
    async with uow_factory() as uow:
        await uow.inbox.store(b"before", received_at=T0, dead_reason=None)
        ids = await uow.inbox.store_many(webhooks)
        await uow.commit()
    assert ids == sorted(ids) and len(set(ids)) == 31
    async with uow_factory() as uow:
        claimed = await uow.inbox.claim(now=T0 + timedelta(hours=1), limit=100)
    assert [(row.id, row.body) for row in claimed[1:]] == list(zip(ids, bodies, strict=True))
    assert [row.received_at for row in claimed[1:]] == [w.received_at for w in webhooks]


async def test_a_webhook_stored_in_a_group_is_due_from_the_very_microsecond_it_came(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """The route's groups are stored past SQLAlchemy (SQLite: its own statement and time
    text), so their times must read, and compare in a claim, as the ORM's do: a claim at the
    moment a webhook came takes it, one a microsecond earlier does not, and a time given in
    another zone is the same instant."""
    came = datetime(2026, 11, 29, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    async with uow_factory() as uow:
        by_orm = await uow.inbox.store(b"{}", received_at=came, dead_reason=None)
        [in_group] = await uow.inbox.store_many([NewWebhook(body=b"{}", received_at=came)])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.inbox.claim(now=came - timedelta(microseconds=1), limit=5) == []
        claimed = await uow.inbox.claim(now=came, limit=5)
    async with uow_factory.engine.connect() as connection:
        stored = text("SELECT received_at, not_before FROM webhook_inbox ORDER BY id")
        times = (await connection.execute(stored)).all()
    assert [row.id for row in claimed] == [by_orm, in_group]
    assert [row.received_at for row in claimed] == [came, came]
    assert claimed[1].received_at.tzinfo == UTC
    assert times[0] == times[1]  # the same text (SQLite) or value as the ORM stores


@pytest.mark.skipif(not USE_POSTGRES, reason="PostgreSQL's planner")
async def test_a_claims_plan_never_pairs_pending_jobs_with_each_other(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Each candidate is checked for an earlier blocking job by one index probe, whatever
    the planner knows. Written as NOT EXISTS, the check could become an anti-join that
    compared every pending job with every other: 11 s for one claim at 6,000 pending jobs,
    until autovacuum first analyzed a new (or restored) table."""
    conversation = await _conversation(uow_factory, "111")
    await _enqueue(
        uow_factory,
        *(PostCustomerMessage(conversation_id=conversation, message_id=n) for n in range(50)),
    )
    claims: list[tuple[str, object]] = []

    def record(_: object, __: object, statement: str, parameters: object, *rest: object) -> None:
        if "FOR UPDATE" in statement and statement.lstrip().startswith("UPDATE jobs"):
            claims.append((statement, parameters))

    event.listen(uow_factory.engine.sync_engine, "before_cursor_execute", record)
    try:
        [claimed] = await _claim(uow_factory)
    finally:
        event.remove(uow_factory.engine.sync_engine, "before_cursor_execute", record)
    assert claimed.payload["message_id"] == 0
    statement, parameters = claims[0]
    async with uow_factory.engine.connect() as connection:
        plan = "\n".join(
            row[0]
            for row in await connection.exec_driver_sql("EXPLAIN " + statement, parameters)  # type: ignore[arg-type]
        )
    assert "SubPlan" in plan
    assert "Anti Join" not in plan and "Semi Join" not in plan


async def _plan(
    uow_factory: SqlUnitOfWorkFactory, statement: str, parameters: object, *, analyze: bool
) -> str:
    """The plan of ``statement`` as the engine would run it (after ``ANALYZE`` if asked)."""
    async with uow_factory.engine.connect() as connection:
        if analyze:
            await connection.exec_driver_sql("ANALYZE")
        explain = "EXPLAIN " if USE_POSTGRES else "EXPLAIN QUERY PLAN "
        rows = await connection.exec_driver_sql(explain + statement, parameters)  # type: ignore[arg-type]
        return "\n".join(str(row[-1]) for row in rows)


async def _no_statistics_but_ours(uow_factory: SqlUnitOfWorkFactory, table: str) -> None:
    """PostgreSQL: no autovacuum on ``table``, whose analyze, run halfway through a test's
    setup (all its rows still pending, say), would leave the "before statistics" plan to
    chance."""
    if USE_POSTGRES:
        async with uow_factory.engine.begin() as connection:
            await connection.exec_driver_sql(
                f"ALTER TABLE {table} SET (autovacuum_enabled = false)"
            )


async def test_a_claim_walks_each_lanes_pending_jobs_in_order_and_stops_at_its_limit(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """A backlog must not slow the claims that drain it: each lane's pending jobs are read in
    the order they are taken, and the read ends at the limit. Read by ``not_before`` and
    sorted, every due job was read on every claim (25 ms a claim on PostgreSQL at 5,000 due
    jobs, and a claim follows every commit that queues work). Before and after the table's
    first statistics."""

    def jobs(first: int, count: int) -> list[QueuedJob]:
        return [
            QueuedJob(job=PostCustomerMessage(conversation_id=n % 300, message_id=n), seq=T0)
            for n in range(first, first + count)
        ]

    await _no_statistics_but_ours(uow_factory, "jobs")

    async with uow_factory() as uow:  # the days behind: finished jobs
        await uow.jobs.enqueue_many(jobs(-20_000, 20_000), now=T0)
        await uow.commit()
    async with uow_factory.engine.begin() as connection:
        await connection.execute(text("UPDATE jobs SET state = 'done'"))
    async with uow_factory() as uow:  # and a backlog, 10 jobs for each of 300 conversations
        await uow.jobs.enqueue_many(jobs(1, 3_000), now=T0)
        await uow.commit()
    claims: list[tuple[str, object]] = []

    def record(_: object, __: object, statement: str, parameters: object, *rest: object) -> None:
        if statement.lstrip().startswith("UPDATE jobs SET attempts"):
            claims.append((statement, parameters))

    event.listen(uow_factory.engine.sync_engine, "before_cursor_execute", record)
    try:
        first = await _claim(uow_factory, limit=5)
    finally:
        event.remove(uow_factory.engine.sync_engine, "before_cursor_execute", record)
    assert sorted(j.payload["message_id"] for j in first) == [1, 2, 3, 4, 5]
    statement, parameters = claims[0]
    for analyzed in (False, True):
        plan = await _plan(uow_factory, statement, parameters, analyze=analyzed)
        assert "ix_jobs_pending_lane_id" in plan, plan
        if USE_POSTGRES:
            assert "Sort" not in plan, plan
        else:
            assert "TEMP B-TREE" not in plan, plan


async def test_an_inbox_claim_reaches_new_webhooks_past_thousands_waiting_to_be_read_again(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """A flood of statuses for another app's messages keeps thousands of webhooks waiting to
    be read again. Read by ``(state, id)`` and filtered on when each is due, every claim
    walked them all before it reached a new webhook (7.6 ms a claim at 20,000 on SQLite). Each
    kind now has an index of its own, read in the order it is taken, up to the limit. Before
    and after the table's first statistics."""
    later = T0 + timedelta(hours=1)
    await _no_statistics_but_ours(uow_factory, "webhook_inbox")

    async def store(count: int) -> list[int]:
        async with uow_factory() as uow:
            ids = await uow.inbox.store_many([NewWebhook(body=b"{}", received_at=T0)] * count)
            await uow.commit()
        return ids

    behind = await store(5_000)  # the days behind
    async with uow_factory() as uow:
        await uow.inbox.done_many(behind, now=T0)
        await uow.commit()
    waiting = await store(3_000)  # read once, to be read again in an hour
    async with uow_factory() as uow:
        await uow.inbox.retry(waiting, error="status before its send", not_before=later)
        await uow.commit()
    fresh = await store(20)
    statements: list[tuple[str, object]] = []

    def record(_: object, __: object, statement: str, parameters: object, *rest: object) -> None:
        if "FROM webhook_inbox" in statement and "LIMIT" in statement:
            statements.append((statement, parameters))

    event.listen(uow_factory.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with uow_factory() as uow:
            assert [row.id for row in await uow.inbox.claim(now=T0, limit=10)] == fresh[:10]
    finally:
        event.remove(uow_factory.engine.sync_engine, "before_cursor_execute", record)
    async with uow_factory() as uow:  # once due, those read before come first
        due = await uow.inbox.claim(now=later, limit=10)
    assert [row.id for row in due] == waiting[:10] and {row.attempts for row in due} == {1}
    assert statements
    for analyzed in (False, True):
        for statement, parameters in statements:
            plan = await _plan(uow_factory, statement, parameters, analyze=analyzed)
            if "attempts > 0" in statement:
                # Only the due ones are read: on PostgreSQL a range of the index, sorted
                # when the planner expects few.
                assert "ix_webhook_inbox_waiting" in plan, plan
                assert "not_before <" in plan or "not_before<" in plan, plan
            else:
                assert "ix_webhook_inbox_fresh" in plan, plan
            if not USE_POSTGRES:
                assert "TEMP B-TREE" not in plan, plan
            elif "attempts = 0" in statement:
                assert "Sort" not in plan, plan


@pytest.mark.skipif(not USE_POSTGRES, reason="a server that drops connections")
async def test_a_pooled_connection_dropped_while_idle_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections are pinged only after sitting idle (not on every checkout, which cost a
    round trip per unit of work); one the server dropped meanwhile is replaced, and the
    statement after the pause never sees the error."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # The server drops it (a restart, an idle timeout), from outside the pool.
        dsn = make_url(database_url).set(drivername="postgresql")
        with psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        monkeypatch.setattr(storage.db, "PING_AFTER", 0.0)  # as if idle for long
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
