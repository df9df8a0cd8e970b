"""Conversations, with their business number and contact."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)

from bridge.domain import Direction
from bridge.ports import ContactTally, ConversationKey, ConversationRecord, OpenConversation
from storage.models import BusinessNumber, Contact, Conversation, JobEntry, Message, UTCDateTime
from storage.repositories.base import Repository, among

__all__ = ["JOINED", "SqlConversations", "conversation_record", "record_of"]


def conversation_record(
    conversation: Conversation, number: BusinessNumber, contact: Contact
) -> ConversationRecord:
    return ConversationRecord(
        id=conversation.id,
        uid=conversation.uid,
        phone_number_id=number.phone_number_id,
        display_phone_number=number.display_phone_number,
        contact_id=contact.contact_key,
        contact_name=contact.name,
        slack_channel=conversation.slack_channel,
        slack_thread_ts=conversation.slack_thread_ts,
        window_expires_at=conversation.window_expires_at,
        last_message_at=conversation.last_message_at,
        total_messages=conversation.total_messages,
        created_at=conversation.created_at,
    )


def _later(column: Any, value: Any) -> Any:
    """``value`` where it is later than ``column`` (or ``column`` is empty): times only move on."""
    return case((column.is_(None) | (column < value), value), else_=column)


_AT = bindparam("at", type_=UTCDateTime())
_CONVERSATIONS = cast(Table, Conversation.__table__)
_TABLE = _CONVERSATIONS.c
#: The inbox worker's update, one per conversation a batch wrote to; on the table, not the
#: class, so that a list of rows makes it one compiled executemany.
_RECORD_CONTACT = (
    update(_CONVERSATIONS)
    .where(_TABLE.id == bindparam("cid"))
    .values(
        total_messages=_TABLE.total_messages + bindparam("n"),
        messages_from_contact=_TABLE.messages_from_contact + bindparam("n"),
        updated_at=_AT,
        last_message_at=_later(_TABLE.last_message_at, _AT),
        last_message_from_contact_at=_later(_TABLE.last_message_from_contact_at, _AT),
        window_expires_at=_later(
            _TABLE.window_expires_at, bindparam("window", type_=UTCDateTime())
        ),
    )
)


_NUMBERS = cast(Table, BusinessNumber.__table__).c
_CONTACTS = cast(Table, Contact.__table__).c
#: A conversation with its number and contact as one row of plain columns (``record_of``),
#: each named ``c_<field>`` (they join other tables' columns without a clash). Columns, not
#: ORM objects: loading three objects into the session cost more than running the query.
_FIELDS: Final = {
    "id": _TABLE.id,
    "uid": _TABLE.uid,
    "phone_number_id": _NUMBERS.phone_number_id,
    "display_phone_number": _NUMBERS.display_phone_number,
    "contact_id": _CONTACTS.contact_key,
    "contact_name": _CONTACTS.name,
    "slack_channel": _TABLE.slack_channel,
    "slack_thread_ts": _TABLE.slack_thread_ts,
    "window_expires_at": _TABLE.window_expires_at,
    "last_message_at": _TABLE.last_message_at,
    "total_messages": _TABLE.total_messages,
    "created_at": _TABLE.created_at,
}
JOINED: Final = select(
    *(column.label(f"c_{name}") for name, column in _FIELDS.items())
).select_from(
    _CONVERSATIONS.join(
        cast(Table, BusinessNumber.__table__), _TABLE.business_number_id == _NUMBERS.id
    ).join(cast(Table, Contact.__table__), _TABLE.contact_id == _CONTACTS.id)
)


def record_of(row: Any) -> ConversationRecord:
    """The record of a row of ``JOINED``'s columns."""
    mapping = row._mapping
    return ConversationRecord(**{name: mapping[f"c_{name}"] for name in _FIELDS})


_MESSAGES = cast(Table, Message.__table__).c
#: The wamid of the conversation's latest customer message (a reply marks it read).
_LATEST_INBOUND: Final = (
    select(_MESSAGES.wamid)
    .where(
        _MESSAGES.conversation_id == _TABLE.id,
        _MESSAGES.direction == Direction.INBOUND.value,
        _MESSAGES.wamid.is_not(None),
    )
    .order_by(_MESSAGES.created_at.desc(), _MESSAGES.id.desc())
    .limit(1)
    .scalar_subquery()
)

#: Statements a message crosses, built once: building one cost more than running it.
_BY_ID = JOINED.where(Conversation.id == bindparam("id"))
_THREAD = (
    Conversation.slack_channel == bindparam("channel"),
    Conversation.slack_thread_ts == bindparam("thread_ts"),
)
_BY_THREAD = JOINED.where(*_THREAD)
_REPLYING_IN = JOINED.add_columns(_LATEST_INBOUND.label("latest_inbound")).where(*_THREAD)


@functools.cache
def _open_ids_statement(
    postgres: bool,
) -> Select[str, str | None, int, bool, datetime | None]:
    # Whether the parent's update is queued already and not claimed, read with the
    # conversation: a customer message queues one only if not.
    update_waiting = (
        exists()
        .where(
            JobEntry.state == "pending",
            JobEntry.conversation_id == Conversation.id,
            JobEntry.job_type == bindparam("update_job_type"),
            or_(
                JobEntry.locked_until.is_(None),
                JobEntry.locked_until < bindparam("now", type_=UTCDateTime()),
            ),
        )
        .label("update_waiting")
    )
    return (
        select(
            Contact.contact_key,
            Contact.name,
            Conversation.id,
            update_waiting,
            Conversation.window_expires_at,
        )
        .join(Conversation, Conversation.contact_id == Contact.id)
        .join(BusinessNumber, Conversation.business_number_id == BusinessNumber.id)
        .where(
            BusinessNumber.phone_number_id == bindparam("phone_number_id"),
            among(Contact.contact_key, "keys", postgres=postgres),
            Conversation.state == "open",
        )
    )


class SqlConversations(Repository):
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
        # Each row is inserted unless it exists, then read: two workers that meet a new
        # customer at once both end with the one conversation, neither with an error.
        session = self._session
        await session.execute(
            self._insert(BusinessNumber)
            .values(
                phone_number_id=phone_number_id,
                display_phone_number=display_phone_number,
                slack_channel=slack_channel,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[BusinessNumber.phone_number_id])
        )
        number = (
            await session.scalars(
                select(BusinessNumber).where(BusinessNumber.phone_number_id == phone_number_id)
            )
        ).one()
        await session.execute(
            self._insert(Contact)
            .values(
                contact_key=contact_id,
                wa_id=contact_id if contact_id.isdigit() else None,
                name=contact_name,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[Contact.contact_key])
        )
        contact = (
            await session.scalars(select(Contact).where(Contact.contact_key == contact_id))
        ).one()
        if contact_name and contact.name != contact_name:
            contact.name, contact.updated_at = contact_name, now
        await session.execute(
            self._insert(Conversation)
            .values(
                uid=uuid.uuid4().hex,
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
            .on_conflict_do_nothing(
                index_elements=[Conversation.business_number_id, Conversation.contact_id]
            )
        )
        conversation = (
            await session.scalars(
                select(Conversation).where(
                    Conversation.business_number_id == number.id,
                    Conversation.contact_id == contact.id,
                )
            )
        ).one()
        if conversation.state != "open":
            # A closed conversation that the customer writes to again reopens on its thread.
            conversation.state, conversation.updated_at = "open", now
        return conversation_record(conversation, number, contact)

    async def open_conversations(
        self,
        *,
        phone_number_id: str,
        contacts: Mapping[str, str | None],
        update_job_type: str,
        now: datetime,
    ) -> dict[str, OpenConversation]:
        rows = await self._core(
            _open_ids_statement(self._postgres),
            {
                "phone_number_id": phone_number_id,
                "keys": list(contacts),
                "update_job_type": update_job_type,
                "now": now,
            },
        )
        return {
            key: OpenConversation(
                id=conversation_id, update_waiting=bool(waiting), window_expires_at=ends
            )
            for key, name, conversation_id, waiting, ends in rows
            if not contacts[key] or contacts[key] == name
        }

    async def get(self, conversation_id: int) -> ConversationRecord | None:
        row = (await self._core(_BY_ID, {"id": conversation_id})).first()
        return None if row is None else record_of(row)

    async def by_thread(self, *, channel: str, thread_ts: str) -> ConversationRecord | None:
        row = (await self._core(_BY_THREAD, {"channel": channel, "thread_ts": thread_ts})).first()
        return None if row is None else record_of(row)

    async def replying_in(
        self, *, channel: str, thread_ts: str
    ) -> tuple[ConversationRecord, str | None] | None:
        row = (await self._core(_REPLYING_IN, {"channel": channel, "thread_ts": thread_ts})).first()
        return None if row is None else (record_of(row), row.latest_inbound)

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

    async def record_contact_messages(self, tallies: Mapping[int, ContactTally]) -> None:
        if tallies:
            await self._core(
                _RECORD_CONTACT,
                [
                    {"cid": cid, "n": t.count, "at": t.latest, "window": t.window_expires_at}
                    # In id order: two workers updating the same rows lock them in one order.
                    for cid, t in sorted(tallies.items())
                ],
            )

    async def list_recent(
        self, *, limit: int, offset: int = 0, after: ConversationKey | None = None
    ) -> list[ConversationRecord]:
        """Newest first by (last message, id), conversations without messages last; ``after``
        resumes behind that conversation's place (keyset: rows added meanwhile never shift
        a page)."""
        C = Conversation  # noqa: N806 - a short alias keeps the statement readable
        query = JOINED
        if after is not None:
            if after.last_message_at is None:
                query = query.where(C.last_message_at.is_(None), C.id < after.id)
            else:
                at = after.last_message_at
                query = query.where(
                    or_(
                        C.last_message_at < at,
                        and_(C.last_message_at == at, C.id < after.id),
                        C.last_message_at.is_(None),
                    )
                )
        query = (
            query.order_by(C.last_message_at.desc().nulls_last(), C.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [record_of(row) for row in (await self._session.execute(query)).all()]

    async def display_number(self, phone_number_id: str) -> str | None:
        """A business number's phone number, if a conversation on it was ever stored."""
        return await self._session.scalar(
            select(BusinessNumber.display_phone_number).where(
                BusinessNumber.phone_number_id == phone_number_id
            )
        )

    async def business_numbers(self) -> list[tuple[str, str, str]]:
        """(phone number id, phone number, channel) of every business number stored."""
        rows = await self._session.execute(
            select(
                BusinessNumber.phone_number_id,
                BusinessNumber.display_phone_number,
                BusinessNumber.slack_channel,
            ).order_by(BusinessNumber.id)
        )
        return [(a, b, c) for a, b, c in rows.all()]

    async def window_counts(self, *, now: datetime, within: timedelta) -> tuple[int, int]:
        """How many windows are open at ``now``, and how many of them close ``within``."""
        C = Conversation  # noqa: N806 - a short alias keeps the statement readable
        open_now = C.window_expires_at > now
        closing = case((C.window_expires_at <= now + within, 1), else_=0)
        row = (
            await self._session.execute(
                select(func.count(), func.coalesce(func.sum(closing), 0)).where(open_now)
            )
        ).one()
        return int(row[0]), int(row[1])
