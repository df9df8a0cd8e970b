"""A conversation's Slack thread: opened by the first post that needs it, found again after a
crash by the conversation's own key."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bridge.ports import ChatSurface, ContactView, ConversationRecord, UnitOfWorkFactory

__all__ = ["RECHECK_MARGIN", "contact_view", "ensure_thread", "recheck_since"]

log = logging.getLogger(__name__)

#: Slack's clock and ours may disagree a little; a recheck looks this much further back.
RECHECK_MARGIN = timedelta(minutes=5)


def recheck_since(moment: datetime, *, retried: bool) -> datetime | None:
    """Where a retry looks for an earlier post; None on a first try (nothing to find)."""
    return moment - RECHECK_MARGIN if retried else None


def contact_view(conversation: ConversationRecord) -> ContactView:
    """Who the conversation is with and its window, as the thread's parent shows them."""
    return ContactView(
        contact_id=conversation.contact_id,
        name=conversation.contact_name,
        business_number=conversation.display_phone_number,
        window_expires_at=conversation.window_expires_at,
        conversation_id=conversation.id,
    )


async def ensure_thread(
    *,
    uow: UnitOfWorkFactory,
    chat: ChatSurface,
    conversation: ConversationRecord,
    retried: bool,
) -> str:
    """The conversation's thread, opened now if it has none yet."""
    if conversation.slack_thread_ts is not None:
        return conversation.slack_thread_ts
    ts = await chat.open_thread(
        channel=conversation.slack_channel,
        contact=contact_view(conversation),
        key=conversation.uid,
        recheck_since=recheck_since(conversation.created_at, retried=retried),
    )
    # Committed at once: from now on this conversation lives on that thread.
    async with uow() as unit:
        await unit.conversations.set_thread(conversation.id, ts)
        await unit.commit()
    log.info("thread opened", extra={"conversation_id": conversation.id, "thread_ts": ts})
    return ts
