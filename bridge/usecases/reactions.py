"""An agent reacts to a customer's post in Slack: the customer sees the reaction on WhatsApp.

WhatsApp keeps one reaction per message from the business: a new one replaces it, and an
empty one takes it back. So a removal in Slack is sent only when it removes the reaction
the customer sees, or will see once the reactions queued before it have gone out. A
reaction goes out through ``SendReply`` like a reply, in the conversation's order, and only
while the window is open.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge.domain import (
    DeliveryProblem,
    Direction,
    MessageStatus,
    Notice,
    NoticeKind,
    SenderType,
    window_is_open,
)
from bridge.jobs import SendReply
from bridge.ports import Clock, NewMessage, UnitOfWorkFactory
from bridge.usecases.notices import queue_notice
from bridge.usecases.replies import REPLY_SETTLE, settle_time

__all__ = ["AgentReactions", "ReactionOutcome"]

log = logging.getLogger(__name__)


class ReactionOutcome(enum.StrEnum):
    QUEUED = "queued"
    #: Not on a customer's message, a repeat of an event, or a removal of a reaction the
    #: customer does not see.
    IGNORED = "ignored"
    #: Not sent, and the agent was told why (window closed, custom emoji).
    REFUSED = "refused"


class AgentReactions:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        settle: timedelta = REPLY_SETTLE,
        always_settle: bool = False,
        on_queued: Callable[[float], None] = lambda due_in: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._settle = settle
        self._always_settle = always_settle
        self._on_queued = on_queued

    async def react(
        self,
        *,
        channel: str,
        ts: str,
        user: str,
        emoji: str | None,
        added: bool,
        reacted_at: datetime,
        event_id: str | None,
        others_arriving: Callable[[], bool] = lambda: True,
    ) -> ReactionOutcome:
        """``emoji`` is the Unicode emoji, or None for one WhatsApp cannot show (a custom
        Slack emoji); ``added`` False for a removal. ``others_arriving``: as for replies, the
        reaction waits ``settle`` while another of Slack's requests is being received."""
        now = self._clock.now()
        async with self._uow() as uow:
            if event_id is not None and not await uow.slack_events.remember(event_id, now=now):
                return ReactionOutcome.IGNORED
            found = await uow.messages.inbound_at_post(channel=channel, slack_ts=ts)
            # Locked: an add and its removal handled side by side take turns on the post.
            target = (
                await uow.messages.lock_by_wamid(found.wamid) if found and found.wamid else None
            )
            if target is None or target.wamid is None:
                await uow.commit()
                return ReactionOutcome.IGNORED
            conversation = await uow.conversations.get(target.conversation_id)
            assert conversation is not None  # a message's conversation is never deleted
            ids = {"conversation_id": conversation.id, "message_id": target.id}
            current = target.content.get("agent_reaction")
            last = target.content.get("agent_reaction_at")
            if isinstance(last, int | float) and reacted_at.timestamp() <= last:
                # Slack's events for one post can be handled out of order (an add and its
                # removal a moment apart): the later one stands, an earlier one is late news.
                await uow.commit()
                return ReactionOutcome.IGNORED
            if not added and (emoji is None or emoji != current):
                # Nothing to take back, yet: remember when, so that the add this removal
                # overtook is not sent when it comes.
                await uow.messages.set_agent_reaction(target.id, current, at=reacted_at)
                await uow.commit()
                return ReactionOutcome.IGNORED
            refusal: Notice | None = None
            if emoji is None:
                refusal = Notice(
                    kind=NoticeKind.REACTION_NOT_SENT,
                    error_details="custom Slack emoji cannot be shown on WhatsApp; "
                    "use a standard one",
                )
            elif not window_is_open(conversation.window_expires_at, now=now):
                refusal = Notice(
                    kind=NoticeKind.REACTION_NOT_SENT, problem=DeliveryProblem.WINDOW_CLOSED
                )
            if refusal is not None:
                await queue_notice(uow, conversation.id, refusal, now=now)
                await uow.commit()
                log.info("reaction refused", extra=ids)
                return ReactionOutcome.REFUSED
            assert emoji is not None
            message = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation.id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type="reaction",
                    content={"message_id": target.wamid, "emoji": emoji if added else ""},
                    status=MessageStatus.PENDING,
                    created_at=now,
                    slack_user=user,
                    idempotency_key=f"slack-reaction:{channel}:{ts}:{user}:{reacted_at.timestamp():.6f}",
                )
            )
            if message is None:
                return ReactionOutcome.IGNORED
            wait = settle_time(self._settle, always=self._always_settle, arriving=others_arriving())
            await uow.jobs.enqueue(
                SendReply(conversation_id=conversation.id, message_id=message.id),
                now=now,
                seq=reacted_at,
                not_before=now + wait,
            )
            # What the customer will see once the queue has run, recorded now: an agent who
            # takes a reaction back before it went out must still take it back on WhatsApp.
            await uow.messages.set_agent_reaction(
                target.id, emoji if added else None, at=reacted_at
            )
            await uow.commit()
        self._on_queued(wait.total_seconds())
        log.info("reaction taken", extra={**ids, "added": added})
        return ReactionOutcome.QUEUED
