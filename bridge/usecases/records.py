"""What several handlers share: loading the records a job is about, and ending a job that has
nothing else to record."""

from __future__ import annotations

from bridge.errors import JobNotReadyError, UnworkableJobError
from bridge.jobs import JobContext
from bridge.ports import ConversationRecord, MessageRecord, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "current_parts",
    "finish",
    "load_message",
    "load_threaded_conversation",
    "read_message",
    "resend_key",
    "resend_of",
]

#: The idempotency key of an agent's new send of a failed message: one per failed message,
#: so two clicks on its button send once.
_RESEND_PREFIX = "retry:"


def resend_key(message_id: int) -> str:
    """The idempotency key of the new send of failed message ``message_id``."""
    return f"{_RESEND_PREFIX}{message_id}"


def resend_of(message: MessageRecord) -> int | None:
    """The failed message this one sends again, if it is such a send."""
    key = message.idempotency_key or ""
    rest = key.removeprefix(_RESEND_PREFIX)
    return int(rest) if rest != key and rest.isdigit() else None


def current_parts(parts: list[MessageRecord]) -> list[MessageRecord]:
    """A reply's parts as they stand now: a part an agent sent again is replaced, in its
    place, by its latest new send (a reply whose post shows them all has one display)."""
    ids = {p.id for p in parts}
    again = {of: p for p in parts if (of := resend_of(p)) is not None and of in ids}
    current = []
    for part in parts:
        if resend_of(part) in ids:
            continue  # it stands in for another part, below
        while part.id in again:
            part = again[part.id]
        current.append(part)
    return current


async def load_message(
    uow: UnitOfWorkFactory, *, conversation_id: int, message_id: int
) -> tuple[MessageRecord, ConversationRecord, list[MessageRecord]]:
    """A message, its conversation, and every part of the reply it belongs to as it stands
    (just itself when the reply went out whole; parts sent again replaced by their new
    sends); ``UnworkableJobError`` if either record is gone."""
    async with uow() as unit:
        return await read_message(unit, conversation_id=conversation_id, message_id=message_id)


async def read_message(
    unit: UnitOfWork, *, conversation_id: int, message_id: int
) -> tuple[MessageRecord, ConversationRecord, list[MessageRecord]]:
    """``load_message`` in the caller's transaction."""
    found = await unit.messages.with_conversation(message_id, conversation_id)
    if found is None:
        raise UnworkableJobError(f"message {message_id} is gone", reason="message_gone")
    message, conversation = found
    parts = (
        await unit.messages.parts_of_reply(conversation_id, message.slack_ts)
        if message.slack_ts is not None
        else []
    )
    return message, conversation, current_parts(parts) or [message]


async def finish(uow: UnitOfWorkFactory, ctx: JobContext) -> None:
    """Mark the job done, alone in its transaction (there was nothing else to record)."""
    async with uow() as unit:
        await ctx.finish(unit)
        await unit.commit()


async def load_threaded_conversation(
    uow: UnitOfWorkFactory, conversation_id: int
) -> tuple[ConversationRecord, str]:
    """A conversation and its thread, for jobs that only add to a thread: they wait
    (``JobNotReadyError``) while only a customer message can open it."""
    async with uow() as unit:
        conversation = await unit.conversations.get(conversation_id)
    if conversation is None:
        raise UnworkableJobError(
            f"conversation {conversation_id} is gone", reason="conversation_gone"
        )
    if conversation.slack_thread_ts is None:
        raise JobNotReadyError("the thread is not open yet", reason="thread_not_open")
    return conversation, conversation.slack_thread_ts
