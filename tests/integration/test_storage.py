"""Storage on a real database: the migration, units of work, and claiming work."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bridge.domain import Direction, MessageStatus, SenderType
from bridge.ports import NewMessage
from storage.db import create_engine, migrate, schema_is_current
from storage.models import Base
from storage.uow import SqlUnitOfWorkFactory
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0


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


async def test_a_wamid_is_stored_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    conversation_id = await _conversation(uow_factory)
    message = NewMessage(
        conversation_id=conversation_id,
        direction=Direction.INBOUND,
        sender_type=SenderType.CONTACT,
        message_type="text",
        content={"text": "hi"},
        status=MessageStatus.RECEIVED,
        created_at=T0,
        wamid="wamid.X",
    )
    async with uow_factory() as uow:
        assert await uow.messages.add(message) is not None
        assert await uow.messages.add(message) is None
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.messages.by_wamid("wamid.X")
    assert stored is not None and stored.created_at == T0  # times come back UTC-aware


async def test_outbox_claims_only_the_head_of_each_conversation(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first, second = await _conversation(uow_factory, "111"), await _conversation(uow_factory, "222")
    async with uow_factory() as uow:
        for conversation_id in (first, first, second):
            await uow.outbox.enqueue(conversation_id=conversation_id, kind="k", payload={}, now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        claimed = await uow.outbox.claim(now=T0, limit=10)
        await uow.commit()
    assert sorted(item.conversation_id for item in claimed) == [first, second]
    async with uow_factory() as uow:  # claimed items are leased: nobody else takes them
        assert await uow.outbox.claim(now=T0, limit=10) == []


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
async def test_two_outbox_workers_split_the_conversations(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ids = [await _conversation(uow_factory, str(n)) for n in range(4)]
    async with uow_factory() as uow:
        for conversation_id in ids:
            await uow.outbox.enqueue(conversation_id=conversation_id, kind="k", payload={}, now=T0)
        await uow.commit()
    async with uow_factory() as first, uow_factory() as second:
        mine = await first.outbox.claim(now=T0, limit=2)
        theirs = await second.outbox.claim(now=T0, limit=4)
    assert len(mine) == 2 and len(theirs) == 2
    assert not {i.id for i in mine} & {i.id for i in theirs}
