"""The unit of work and its repositories over SQLAlchemy (async).

One ``SqlUnitOfWork`` is one transaction: leaving the ``async with`` block
without ``commit()`` rolls it back. On PostgreSQL, work rows are claimed with
``FOR UPDATE SKIP LOCKED`` so several worker processes never take the same row;
on SQLite (one process) a process-wide lock serialises write transactions,
which SQLite would otherwise answer with "database is locked".
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bridge.domain import Direction, MessageStatus, SenderType
from bridge.ports import (
    ConversationRecord,
    InboxRow,
    MessageRecord,
    NewMessage,
    OutboxItem,
)
from storage.models import (
    BusinessNumber,
    Contact,
    Conversation,
    InboxEntry,
    Message,
    OutboxEntry,
    SlackEvent,
)

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory"]

#: How long a claimed outbox item stays invisible to other workers while its Slack call runs;
#: longer than the Slack client's timeout, short enough that a crashed worker's items return soon.
OUTBOX_LEASE = timedelta(seconds=20)


def _conversation_record(
    conversation: Conversation, number: BusinessNumber, contact: Contact
) -> ConversationRecord:
    return ConversationRecord(
        id=conversation.id,
        phone_number_id=number.phone_number_id,
        display_phone_number=number.display_phone_number,
        contact_id=contact.contact_key,
        contact_name=contact.name,
        slack_channel=conversation.slack_channel,
        slack_thread_ts=conversation.slack_thread_ts,
        window_expires_at=conversation.window_expires_at,
        last_message_at=conversation.last_message_at,
        total_messages=conversation.total_messages,
    )


def _message_record(message: Message) -> MessageRecord:
    return MessageRecord(
        id=message.id,
        conversation_id=message.conversation_id,
        direction=Direction(message.direction),
        sender_type=SenderType(message.sender_type),
        slack_user=message.slack_user,
        message_type=message.message_type,
        content=dict(message.content),
        status=MessageStatus(message.status),
        wamid=message.wamid,
        slack_ts=message.slack_ts,
        idempotency_key=message.idempotency_key,
        created_at=message.created_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        read_at=message.read_at,
        failed_at=message.failed_at,
        error_code=message.error_code,
        error_title=message.error_title,
        error_message=message.error_message,
        shown_stages=tuple(message.shown_stages or ()),
    )


class _Repo:
    def __init__(self, session: AsyncSession, *, skip_locked: bool) -> None:
        self._session = session
        self._skip_locked = skip_locked


class SqlConversations(_Repo):
    _JOINED = (
        select(Conversation, BusinessNumber, Contact)
        .join(BusinessNumber, Conversation.business_number_id == BusinessNumber.id)
        .join(Contact, Conversation.contact_id == Contact.id)
    )

    async def _one(self, *where: Any) -> ConversationRecord | None:
        row = (await self._session.execute(self._JOINED.where(*where))).first()
        return None if row is None else _conversation_record(*row)

    async def get_or_create(
        self,
        *,
        phone_number_id: str,
        display_phone_number: str,
        contact_id: str,
        contact_name: str | None,
        slack_channel: str,
        now: datetime,
    ) -> ConversationRecord:
        session = self._session
        number = await session.scalar(
            select(BusinessNumber).where(BusinessNumber.phone_number_id == phone_number_id)
        )
        if number is None:
            number = BusinessNumber(
                phone_number_id=phone_number_id,
                display_phone_number=display_phone_number,
                slack_channel=slack_channel,
                created_at=now,
            )
            session.add(number)
        contact = await session.scalar(select(Contact).where(Contact.contact_key == contact_id))
        if contact is None:
            wa_id = contact_id if contact_id.isdigit() else None
            contact = Contact(
                contact_key=contact_id,
                wa_id=wa_id,
                name=contact_name,
                created_at=now,
                updated_at=now,
            )
            session.add(contact)
        elif contact_name and contact.name != contact_name:
            contact.name, contact.updated_at = contact_name, now
        await session.flush()
        conversation = await session.scalar(
            select(Conversation).where(
                Conversation.business_number_id == number.id, Conversation.contact_id == contact.id
            )
        )
        if conversation is None:
            conversation = Conversation(
                business_number_id=number.id,
                contact_id=contact.id,
                slack_channel=number.slack_channel,
                state="open",
                messages_from_agent=0,
                messages_from_contact=0,
                total_messages=0,
                created_at=now,
                updated_at=now,
            )
            session.add(conversation)
            await session.flush()
        elif conversation.state != "open":
            # A closed conversation that the customer writes to again reopens on its thread.
            conversation.state, conversation.updated_at = "open", now
        return _conversation_record(conversation, number, contact)

    async def get(self, conversation_id: int) -> ConversationRecord | None:
        return await self._one(Conversation.id == conversation_id)

    async def by_thread(self, *, channel: str, thread_ts: str) -> ConversationRecord | None:
        return await self._one(
            Conversation.slack_channel == channel, Conversation.slack_thread_ts == thread_ts
        )

    async def set_thread(self, conversation_id: int, thread_ts: str) -> None:
        await self._session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(slack_thread_ts=thread_ts)
        )

    async def record_message(
        self,
        conversation_id: int,
        *,
        at: datetime,
        from_contact: bool,
        window_expires_at: datetime | None,
    ) -> None:
        # One UPDATE, with the "latest wins" rules in SQL: no read, and no lost update when
        # two processes record messages of one conversation at once.
        def later(column: Any, value: datetime | None) -> Any:
            if value is None:
                return column
            return case((column.is_(None) | (column < value), value), else_=column)

        C = Conversation  # noqa: N806 - a short alias keeps the statement readable
        values: dict[str, Any] = {
            "total_messages": C.total_messages + 1,
            "updated_at": at,
            "last_message_at": later(C.last_message_at, at),
            "window_expires_at": later(C.window_expires_at, window_expires_at),
        }
        if from_contact:
            values["messages_from_contact"] = C.messages_from_contact + 1
            values["last_message_from_contact_at"] = later(C.last_message_from_contact_at, at)
        else:
            values["messages_from_agent"] = C.messages_from_agent + 1
            values["last_message_from_agent_at"] = at
        await self._session.execute(update(C).where(C.id == conversation_id).values(**values))

    async def list_recent(self, *, limit: int, offset: int) -> list[ConversationRecord]:
        query = (
            self._JOINED.order_by(
                Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc()
            )
            .limit(limit)
            .offset(offset)
        )
        return [_conversation_record(*row) for row in (await self._session.execute(query)).all()]


class SqlMessages(_Repo):
    async def add(self, message: NewMessage) -> MessageRecord | None:
        # One statement: the unique wamid and idempotency key decide, even between processes,
        # and a duplicate simply inserts nothing.
        dialect = self._session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(Message)
            .values(
                conversation_id=message.conversation_id,
                direction=message.direction.value,
                sender_type=message.sender_type.value,
                slack_user=message.slack_user,
                message_type=message.message_type,
                content=message.content,
                status=message.status.value,
                wamid=message.wamid,
                slack_ts=message.slack_ts,
                idempotency_key=message.idempotency_key,
                shown_stages=[],
                created_at=message.created_at,
            )
            .on_conflict_do_nothing()
            .returning(Message)
        )
        row = (await self._session.scalars(statement)).one_or_none()
        return None if row is None else _message_record(row)

    async def get(self, message_id: int) -> MessageRecord | None:
        row = await self._session.get(Message, message_id)
        return None if row is None else _message_record(row)

    async def by_wamid(self, wamid: str) -> MessageRecord | None:
        row = await self._session.scalar(select(Message).where(Message.wamid == wamid))
        return None if row is None else _message_record(row)

    async def latest_inbound(self, conversation_id: int) -> MessageRecord | None:
        row = await self._session.scalar(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.INBOUND.value,
                Message.wamid.is_not(None),
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
        return None if row is None else _message_record(row)

    async def update(self, message_id: int, **fields: Any) -> None:
        values = {k: (v.value if isinstance(v, MessageStatus) else v) for k, v in fields.items()}
        if "shown_stages" in values:
            values["shown_stages"] = list(values["shown_stages"])
        await self._session.execute(
            update(Message).where(Message.id == message_id).values(**values)
        )

    async def for_conversation(self, conversation_id: int) -> list[MessageRecord]:
        rows = await self._session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return [_message_record(row) for row in rows]


class SqlInbox(_Repo):
    async def store(self, body: bytes, *, received_at: datetime, dead_reason: str | None) -> int:
        entry = InboxEntry(
            body=body,
            received_at=received_at,
            state="dead" if dead_reason else "pending",
            attempts=0,
            not_before=received_at,
            last_error=dead_reason,
        )
        self._session.add(entry)
        await self._session.flush()
        return entry.id

    async def claim(self, *, now: datetime, limit: int) -> list[InboxRow]:
        query = (
            select(InboxEntry)
            .where(InboxEntry.state == "pending", InboxEntry.not_before <= now)
            .order_by(InboxEntry.id)
            .limit(limit)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        rows = (await self._session.scalars(query)).all()
        return [InboxRow(id=r.id, body=r.body, attempts=r.attempts) for r in rows]

    async def done(self, row_id: int) -> None:
        await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == row_id)
            .values(state="done", processed_at=func.now(), attempts=InboxEntry.attempts + 1)
        )

    async def retry(self, row_id: int, *, error: str, not_before: datetime) -> None:
        await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == row_id)
            .values(
                attempts=InboxEntry.attempts + 1, last_error=error[:2000], not_before=not_before
            )
        )

    async def dead(self, row_id: int, *, error: str) -> None:
        await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == row_id)
            .values(state="dead", attempts=InboxEntry.attempts + 1, last_error=error[:2000])
        )

    async def depth(self) -> int:
        count = await self._session.scalar(
            select(func.count()).select_from(InboxEntry).where(InboxEntry.state == "pending")
        )
        return int(count or 0)


class SqlOutbox(_Repo):
    async def enqueue(
        self,
        *,
        conversation_id: int,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        lane: str = "slack",
        not_before: datetime | None = None,
    ) -> None:
        self._session.add(
            OutboxEntry(
                conversation_id=conversation_id,
                lane=lane,
                kind=kind,
                payload=payload,
                state="pending",
                attempts=0,
                not_before=not_before or now,
                created_at=now,
            )
        )
        await self._session.flush()

    async def claim(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        earlier = aliased(OutboxEntry)
        query = (
            select(OutboxEntry)
            .where(
                OutboxEntry.state == "pending",
                OutboxEntry.not_before <= now,
                (OutboxEntry.locked_until.is_(None)) | (OutboxEntry.locked_until < now),
                # Only the head of each conversation's lane: order within one is kept.
                ~exists().where(
                    and_(
                        earlier.conversation_id == OutboxEntry.conversation_id,
                        earlier.lane == OutboxEntry.lane,
                        earlier.state == "pending",
                        earlier.id < OutboxEntry.id,
                    )
                ),
            )
            .order_by(OutboxEntry.id)
            .limit(limit)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True, of=OutboxEntry)
        rows = (await self._session.scalars(query)).all()
        items = [
            OutboxItem(
                id=r.id,
                conversation_id=r.conversation_id,
                kind=r.kind,
                payload=dict(r.payload),
                attempts=r.attempts,
            )
            for r in rows
        ]
        if rows:
            await self._session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id.in_([r.id for r in rows]))
                .values(locked_until=now + OUTBOX_LEASE, attempts=OutboxEntry.attempts + 1)
            )
        return items

    async def done(self, item_id: int) -> None:
        await self._session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == item_id)
            .values(state="done", done_at=func.now(), locked_until=None)
        )

    async def retry(self, item_id: int, *, error: str, not_before: datetime) -> None:
        await self._session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == item_id)
            .values(last_error=error[:2000], not_before=not_before, locked_until=None)
        )

    async def depth(self) -> int:
        count = await self._session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state == "pending")
        )
        return int(count or 0)


class SqlSlackEvents(_Repo):
    async def remember(self, event_id: str, *, now: datetime) -> bool:
        session = self._session
        if await session.get(SlackEvent, event_id) is not None:
            return False
        try:
            async with session.begin_nested():
                session.add(SlackEvent(event_id=event_id, received_at=now))
                await session.flush()
        except IntegrityError:
            return False
        return True


class SqlUnitOfWork:
    """One database transaction with the repositories the core uses."""

    conversations: SqlConversations
    messages: SqlMessages
    inbox: SqlInbox
    outbox: SqlOutbox
    slack_events: SqlSlackEvents

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        write_lock: asyncio.Lock | None,
        skip_locked: bool,
    ) -> None:
        self._sessions = sessions
        self._write_lock = write_lock
        self._skip_locked = skip_locked
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
        self.outbox = SqlOutbox(session, skip_locked=skip)
        self.slack_events = SqlSlackEvents(session, skip_locked=skip)
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
        if self._session is None:
            raise RuntimeError("commit outside the unit of work")
        await self._session.commit()


class SqlUnitOfWorkFactory:
    """Makes units of work on one engine (callable: ``uow = factory()``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autobegin=False)
        sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock() if sqlite else None
        self._skip_locked = not sqlite

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._sessions, write_lock=self._write_lock, skip_locked=self._skip_locked
        )
