"""Messages, both ways; inserted once per wamid or idempotency key."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bridge.domain import Direction, MessageStatus, SenderType
from bridge.ports import ConversationRecord, MessageRecord, MessageStats, NewMessage
from storage.models import Conversation, Message, UTCDateTime
from storage.repositories.base import Repository, among
from storage.repositories.conversations import JOINED, record_of

__all__ = ["SqlMessages"]

_TABLE = cast(Table, Message.__table__)
#: Where a message stands, from its record (an executemany with a list of rows).
_RECORD_DELIVERY = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("m_id"))
    .values(
        {
            name: bindparam("m_" + name)
            for name in (
                *("status", "sent_at", "delivered_at", "read_at", "played_at"),
                *("pricing_category", "billable", "pricing_model"),
            )
        }
    )
)


def _record(message: Any) -> MessageRecord:
    """A record from an ORM row or a Core row of the table (the same names)."""
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
        played_at=message.played_at,
        pricing_category=message.pricing_category,
        billable=message.billable,
        pricing_model=message.pricing_model,
    )


def _still_queued(row: Message) -> bool:
    return (
        row.status == MessageStatus.PENDING.value
        and row.wamid is None
        and row.send_started_at is None
    )


_C = _TABLE.c
#: Statements a message crosses, built once: building one cost more than running it.
_WITH_CONVERSATION: Final = (
    JOINED.add_columns(*_TABLE.c)
    .join(_TABLE, _C.conversation_id == cast(Table, Conversation.__table__).c.id)
    .where(_C.id == bindparam("message_id"), _C.conversation_id == bindparam("conversation_id"))
)
_PARTS_OF_REPLY: Final = (
    select(_TABLE)
    .where(
        _C.conversation_id == bindparam("cid"),
        _C.direction == Direction.OUTBOUND.value,
        _C.slack_ts == bindparam("slack_ts"),
    )
    .order_by(_C.id)
)
_SET_SLACK_TS: Final = (
    update(_TABLE).where(_C.id == bindparam("message_id")).values(slack_ts=bindparam("new_ts"))
)
#: Frozen for its send only if still queued; the time of the first try is kept.
_BEGIN_SEND: Final = (
    update(_TABLE)
    .where(
        _C.id == bindparam("message_id"),
        _C.status == MessageStatus.PENDING.value,
        _C.wamid.is_(None),
    )
    .values(send_started_at=func.coalesce(_C.send_started_at, bindparam("at", type_=UTCDateTime())))
    .returning(*_TABLE.c)
)


@functools.cache
def _insert_statement(postgres: bool, *, returning: str) -> Any:
    """An INSERT that skips a message stored before (its wamid or idempotency key): returning
    the whole row, or each new row's wamid and id."""
    statement = (pg_insert if postgres else sqlite_insert)(_TABLE).on_conflict_do_nothing()
    if returning == "row":
        return statement.returning(*_TABLE.c)
    return statement.returning(_C.wamid, _C.id)


class SqlMessages(Repository):
    async def add(self, message: NewMessage) -> MessageRecord | None:
        # One statement: the unique wamid and idempotency key decide, even between processes,
        # and a duplicate simply inserts nothing.
        values: dict[str, Any] = {
            "conversation_id": message.conversation_id,
            "direction": message.direction.value,
            "sender_type": message.sender_type.value,
            "slack_user": message.slack_user,
            "message_type": message.message_type,
            "content": message.content,
            "status": message.status.value,
            "wamid": message.wamid,
            "slack_ts": message.slack_ts,
            "idempotency_key": message.idempotency_key,
            "shown_stages": [],
            "created_at": message.created_at,
        }
        statement = _insert_statement(self._postgres, returning="row")
        row = (await self._core(statement, values)).one_or_none()
        return None if row is None else _record(row)

    async def add_inbound(self, messages: Sequence[NewMessage]) -> dict[str, int]:
        if not messages:
            return {}
        # A Core statement over a list of rows: compiled once, sent as one multi-row INSERT.
        statement = _insert_statement(self._postgres, returning="wamid")
        rows: list[dict[str, Any]] = [
            {
                "conversation_id": m.conversation_id,
                "direction": m.direction.value,
                "sender_type": m.sender_type.value,
                "slack_user": m.slack_user,
                "message_type": m.message_type,
                "content": m.content,
                "status": m.status.value,
                "wamid": m.wamid,
                "slack_ts": m.slack_ts,
                "idempotency_key": m.idempotency_key,
                "shown_stages": [],
                "created_at": m.created_at,
            }
            for m in messages
        ]
        result = await self._core(statement, rows)
        return {str(wamid): int(id_) for wamid, id_ in result}

    async def get(self, message_id: int) -> MessageRecord | None:
        row = await self._session.get(Message, message_id, populate_existing=True)
        return None if row is None else _record(row)

    async def with_conversation(
        self, message_id: int, conversation_id: int
    ) -> tuple[MessageRecord, ConversationRecord] | None:
        row = (
            await self._core(
                _WITH_CONVERSATION, {"message_id": message_id, "conversation_id": conversation_id}
            )
        ).first()
        if row is None:
            return None
        return _record(row), record_of(row)

    async def by_wamid(self, wamid: str) -> MessageRecord | None:
        row = await self._session.scalar(select(Message).where(Message.wamid == wamid))
        return None if row is None else _record(row)

    async def lock_by_wamid(self, wamid: str) -> MessageRecord | None:
        # FOR UPDATE on PostgreSQL; SQLite has no row locks (its write lock serialises).
        row = await self._session.scalar(
            select(Message)
            .where(Message.wamid == wamid)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return None if row is None else _record(row)

    async def lock_many_by_wamid(self, wamids: Collection[str]) -> dict[str, MessageRecord]:
        if not wamids:
            return {}
        # Locked in id order, so two workers locking overlapping sets wait rather than deadlock.
        rows = await self._session.scalars(
            select(Message)
            .where(among(Message.wamid, "wamids", postgres=self._postgres))
            .order_by(Message.id)
            .with_for_update()
            .execution_options(populate_existing=True),
            {"wamids": sorted(wamids)},
        )
        return {str(row.wamid): _record(row) for row in rows}

    async def inbound_by_slack_ts(
        self, conversation_id: int, slack_ts: str
    ) -> MessageRecord | None:
        row = await self._session.scalar(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.INBOUND.value,
                Message.slack_ts == slack_ts,
                Message.wamid.is_not(None),
            )
            .limit(1)
        )
        return None if row is None else _record(row)

    async def inbound_at_post(self, *, channel: str, slack_ts: str) -> MessageRecord | None:
        row = await self._session.scalar(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.slack_channel == channel,
                Message.direction == Direction.INBOUND.value,
                Message.slack_ts == slack_ts,
            )
            .limit(1)
        )
        return None if row is None else _record(row)

    async def recent_inbound(self, conversation_id: int, *, limit: int) -> list[MessageRecord]:
        rows = await self._session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.INBOUND.value,
                Message.wamid.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(limit)
        )
        return [_record(row) for row in rows]

    async def for_conversation(
        self, conversation_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[MessageRecord]:
        """Oldest first (by id); ``after_id`` resumes behind that message."""
        query = select(Message).where(Message.conversation_id == conversation_id)
        if after_id is not None:
            query = query.where(Message.id > after_id)
        query = query.order_by(Message.id)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in await self._session.scalars(query)]

    async def stats(self, conversation_id: int) -> MessageStats:
        """Counts and times over a conversation's messages (three reads of its index)."""
        M = Message  # noqa: N806 - a short alias keeps the statements readable
        ours = M.conversation_id == conversation_id
        inbound = M.direction == Direction.INBOUND.value
        outbound = M.direction == Direction.OUTBOUND.value
        from_contact, first_in, last_in = (
            await self._session.execute(
                select(func.count(), func.min(M.created_at), func.max(M.created_at)).where(
                    ours, inbound
                )
            )
        ).one()
        went_out = (
            MessageStatus.SENT.value,
            MessageStatus.DELIVERED.value,
            MessageStatus.READ.value,
            MessageStatus.PLAYED.value,
        )
        from_business = await self._session.scalar(
            select(func.count()).where(ours, outbound, M.status.in_(went_out))
        )
        first_response = None
        if first_in is not None:
            first_response = await self._session.scalar(
                select(func.min(M.sent_at)).where(ours, outbound, M.sent_at >= first_in)
            )
        return MessageStats(
            from_contact=int(from_contact or 0),
            from_business=int(from_business or 0),
            first_contact_message_at=first_in,
            last_contact_message_at=last_in,
            first_response_at=first_response,
        )

    async def parts_of_reply(self, conversation_id: int, slack_ts: str) -> list[MessageRecord]:
        rows = await self._core(_PARTS_OF_REPLY, {"cid": conversation_id, "slack_ts": slack_ts})
        return [_record(row) for row in rows]

    async def _set(self, message_id: int, **values: Any) -> None:
        await self._session.execute(
            update(Message).where(Message.id == message_id).values(**values)
        )

    async def set_slack_ts(self, message_id: int, slack_ts: str) -> None:
        await self._core(_SET_SLACK_TS, {"message_id": message_id, "new_ts": slack_ts})

    async def mark_sent(self, message_id: int, *, wamid: str, at: datetime) -> None:
        # A status webhook cannot have moved it yet (it did not know the wamid), and a replayed
        # send of a failed reply that now went out is sent after all.
        await self._set(
            message_id,
            wamid=wamid,
            status=MessageStatus.SENT.value,
            sent_at=at,
            failed_at=None,
            error_code=None,
            error_title=None,
            error_message=None,
        )

    async def mark_failed(
        self,
        message_id: int,
        *,
        at: datetime,
        code: int | None,
        title: str | None,
        details: str | None,
    ) -> None:
        await self._set(
            message_id,
            status=MessageStatus.FAILED.value,
            failed_at=at,
            error_code=code,
            error_title=title,
            error_message=details,
        )

    async def record_deliveries(self, messages: Sequence[MessageRecord]) -> None:
        if not messages:
            return
        rows = [
            {
                "m_id": m.id,
                "m_status": m.status.value,
                "m_sent_at": m.sent_at,
                "m_delivered_at": m.delivered_at,
                "m_read_at": m.read_at,
                "m_played_at": m.played_at,
                "m_pricing_category": m.pricing_category,
                "m_billable": m.billable,
                "m_pricing_model": m.pricing_model,
            }
            for m in messages
        ]
        await self._core(_RECORD_DELIVERY, rows)

    async def record_shown_stages(self, message_id: int, stages: tuple[str, ...]) -> None:
        await self._set(message_id, shown_stages=list(stages))

    async def count_refused_since(self, since: datetime, *, reason: str) -> int:
        """Agents' messages refused before any call, for ``reason``, since ``since``."""
        count = await self._session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.direction == Direction.OUTBOUND.value,
                Message.status == MessageStatus.FAILED.value,
                Message.error_title == reason,
                Message.created_at >= since,
            )
        )
        return int(count or 0)

    async def template_usage(self, *, recent: int) -> dict[str, int]:
        """How often each template was sent, over the ``recent`` latest template messages."""
        rows = await self._session.scalars(
            select(Message.content)
            .where(
                Message.message_type == "template", Message.direction == Direction.OUTBOUND.value
            )
            .order_by(Message.id.desc())
            .limit(recent)
        )
        usage: dict[str, int] = {}
        for content in rows:
            template = content.get("template") if isinstance(content, dict) else None
            name = template.get("name") if isinstance(template, dict) else None
            if isinstance(name, str):
                usage[name] = usage.get(name, 0) + 1
        return usage

    async def by_idempotency_key(self, key: str) -> MessageRecord | None:
        row = await self._session.scalar(select(Message).where(Message.idempotency_key == key))
        return None if row is None else _record(row)

    async def replace_queued_text(self, message_id: int, text: str) -> bool:
        """Change the text of a reply whose send has not begun; False if it is too late."""
        row = await self._locked(message_id)
        if row is None or not _still_queued(row):
            return False
        row.content = {**row.content, "text": text}
        await self._session.flush()
        return True

    async def cancel_queued(self, message_id: int, *, at: datetime) -> bool:
        """Mark a reply whose send has not begun as deleted, so it never goes out; False if
        it is too late."""
        row = await self._locked(message_id)
        if row is None or not _still_queued(row):
            return False
        row.status = MessageStatus.DELETED.value
        row.failed_at = None
        await self._session.flush()
        return True

    async def begin_send(self, message_id: int, *, at: datetime) -> MessageRecord | None:
        """The message as it will be sent, frozen from now on: an edit or a delete after this
        comes too late. None if it is no longer queued (deleted, or sent already)."""
        row = (await self._core(_BEGIN_SEND, {"message_id": message_id, "at": at})).first()
        return None if row is None else _record(row)

    async def _locked(self, message_id: int) -> Message | None:
        """The row, fresh and locked until the transaction ends (a no-op lock on SQLite,
        where a writer is alone anyway)."""
        return await self._session.get(
            Message, message_id, populate_existing=True, with_for_update=True
        )

    async def record_relay(self, message_id: int, *, file_id: str, shared: bool) -> None:
        """Where a customer's file stands on its way into the thread."""
        await self._merge_content(message_id, relay={"file_id": file_id, "shared": shared})

    async def _merge_content(self, message_id: int, **values: Any) -> None:
        row = await self._locked(message_id)
        if row is not None:
            row.content = {**row.content, **values}
            await self._session.flush()

    async def set_customer_reaction(self, message_id: int, emoji: str | None) -> None:
        """The emoji a customer reacted to this message with (None: they took it back)."""
        await self._merge_content(message_id, customer_reaction=emoji)

    async def record_customer_edit(self, message_id: int, *, text: str | None) -> None:
        await self._merge_content(message_id, text=text, edited=True)

    async def record_media_id(self, message_id: int, media_id: str) -> None:
        """An agent's file, uploaded to Meta: a retry sends it without uploading again."""
        await self._merge_content(message_id, media_id=media_id)

    async def set_agent_reaction(
        self, message_id: int, emoji: str | None, *, at: datetime | None = None
    ) -> None:
        """The emoji the business reacted to a customer message with (None: taken back);
        ``at``: when the agent's latest reaction event on it happened."""
        if at is None:
            await self._merge_content(message_id, agent_reaction=emoji)
        else:
            await self._merge_content(
                message_id, agent_reaction=emoji, agent_reaction_at=at.timestamp()
            )

    async def mark_revoked(self, message_id: int) -> None:
        await self._set(message_id, status=MessageStatus.DELETED.value)
