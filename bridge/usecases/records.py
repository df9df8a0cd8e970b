"""What several handlers share: loading the records a job is about, and ending a job that has
nothing else to record."""

from __future__ import annotations

from bridge.errors import JobNotReadyError, UnworkableJobError
from bridge.jobs import JobContext
from bridge.ports import ConversationRecord, MessageRecord, UnitOfWorkFactory

__all__ = ["finish", "load_message", "load_threaded_conversation"]


async def load_message(
    uow: UnitOfWorkFactory, *, conversation_id: int, message_id: int
) -> tuple[MessageRecord, ConversationRecord, list[MessageRecord]]:
    """A message, its conversation, and every part of the reply it belongs to (just itself
    when the reply went out whole); ``UnworkableJobError`` if either record is gone."""
    async with uow() as unit:
        message = await unit.messages.get(message_id)
        conversation = await unit.conversations.get(conversation_id)
        parts = (
            await unit.messages.parts_of_reply(conversation_id, message.slack_ts)
            if message is not None and message.slack_ts is not None
            else []
        )
    if message is None or conversation is None:
        raise UnworkableJobError(f"message {message_id} is gone", reason="message_gone")
    return message, conversation, parts or [message]


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
