"""An agent sends a failed message again, from the button on its failure notice.

A new send, never a replay of the old one: a new message row (keyed by the failed message,
so two clicks send once) and a new ``SendReply`` in the conversation's lane, under the same
window rule as any reply. It belongs to the same Slack post as the failed message, so its
delivery shows there, in place of the failure. Parts of the reply that were held back
because this one failed go out with it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bridge.domain import (
    REFUSED_WINDOW_CLOSED,
    Direction,
    MessageStatus,
    Notice,
    NoticeKind,
    SenderType,
    window_is_open,
)
from bridge.jobs import SendReply
from bridge.ports import Clock, MessageRecord, NewMessage, UnitOfWork, UnitOfWorkFactory
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import current_parts, resend_key
from bridge.usecases.sending import EARLIER_PART_NOT_SENT

__all__ = ["ResendOutcome", "ResendResult", "Resends"]

log = logging.getLogger(__name__)


class ResendOutcome(enum.StrEnum):
    #: A new send is queued.
    QUEUED = "queued"
    #: Someone sent it again already (a second click): nothing more is sent.
    ALREADY = "already"
    #: The 24-hour window is closed: nothing is sent, the thread says to use a template.
    WINDOW_CLOSED = "window_closed"
    #: Nothing to send again: the message is gone, or is no longer failed.
    NOTHING_TO_SEND = "nothing_to_send"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResendResult:
    outcome: ResendOutcome
    #: Who sent it again (for ``ALREADY``: whoever did first, when known).
    by: str | None = None
    message_ids: tuple[int, ...] = ()


def _resendable(message: MessageRecord) -> bool:
    return (
        message.direction == Direction.OUTBOUND
        and message.status == MessageStatus.FAILED
        and message.message_type != "reaction"
        and message.error_title != REFUSED_WINDOW_CLOSED
    )


class Resends:
    """Sends failed messages again when an agent asks."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        on_queued: Callable[[float], None] = lambda due_in: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_queued = on_queued

    async def resend(self, *, message_id: int, user: str) -> ResendResult:
        """Send failed message ``message_id`` again, as ``user`` (a Slack user id)."""
        async with self._uow() as uow:
            result = await self._resend(uow, message_id=message_id, user=user)
            if result.outcome in (ResendOutcome.QUEUED, ResendOutcome.WINDOW_CLOSED):
                await uow.commit()
        if result.outcome == ResendOutcome.QUEUED:
            self._on_queued(0.0)
        log.info(
            "failed message sent again" if result.message_ids else "nothing sent again",
            extra={"message_id": message_id, "outcome": result.outcome.value},
        )
        return result

    async def _resend(self, uow: UnitOfWork, *, message_id: int, user: str) -> ResendResult:
        now = self._clock.now()
        failed = await uow.messages.get(message_id)
        if failed is None or not _resendable(failed):
            return ResendResult(outcome=ResendOutcome.NOTHING_TO_SEND)
        earlier = await uow.messages.by_idempotency_key(resend_key(failed.id))
        if earlier is not None:
            refused = earlier.error_title == REFUSED_WINDOW_CLOSED
            outcome = ResendOutcome.WINDOW_CLOSED if refused else ResendOutcome.ALREADY
            return ResendResult(outcome=outcome, by=earlier.slack_user)
        conversation = await uow.conversations.get(failed.conversation_id)
        if conversation is None:
            return ResendResult(outcome=ResendOutcome.NOTHING_TO_SEND)
        sends = [failed, *await self._held_back(uow, failed)]

        def again(message: MessageRecord, status: MessageStatus) -> NewMessage:
            return NewMessage(
                conversation_id=message.conversation_id,
                direction=Direction.OUTBOUND,
                sender_type=SenderType.AGENT,
                message_type=message.message_type,
                content=dict(message.content),
                status=status,
                created_at=now,
                slack_user=user or None,
                slack_ts=message.slack_ts,
                idempotency_key=resend_key(message.id),
            )

        template = failed.message_type == "template"  # templates go out whatever the window
        if not template and not window_is_open(conversation.window_expires_at, now=now):
            kept = await uow.messages.add(again(failed, MessageStatus.FAILED))
            if kept is None:  # another click got there first
                return await self._lost_race(uow, failed, ResendOutcome.WINDOW_CLOSED)
            # Kept, failed, with the reason, as a refused reply is; a second click finds it.
            await uow.messages.mark_failed(
                kept.id,
                at=now,
                code=None,
                title=REFUSED_WINDOW_CLOSED,
                details="sent again after the 24-hour window closed; nothing was sent",
            )
            notice = Notice(
                kind=NoticeKind.WINDOW_CLOSED,
                window_expires_at=conversation.window_expires_at,
                reply_ts=failed.slack_ts,
            )
            await queue_notice(uow, conversation.id, notice, now=now)
            return ResendResult(outcome=ResendOutcome.WINDOW_CLOSED, by=user)
        queued: list[int] = []
        for arrival, message in enumerate(sends, start=1):
            row = await uow.messages.add(again(message, MessageStatus.PENDING))
            if row is None:
                if not queued:  # another click got there first
                    return await self._lost_race(uow, failed, ResendOutcome.ALREADY)
                continue
            queued.append(row.id)
            # Ordered by the click in the conversation's lane, after what is queued already.
            await uow.jobs.enqueue(
                SendReply(conversation_id=conversation.id, message_id=row.id),
                now=now,
                seq=now,
                arrival=arrival,
            )
        return ResendResult(outcome=ResendOutcome.QUEUED, by=user, message_ids=tuple(queued))

    @staticmethod
    async def _lost_race(
        uow: UnitOfWork, failed: MessageRecord, outcome: ResendOutcome
    ) -> ResendResult:
        """A click that lost the race to another: says who won, as a later click would, so
        whichever click updates the notice last, it names the agent who sent it again."""
        winner = await uow.messages.by_idempotency_key(resend_key(failed.id))
        return ResendResult(outcome=outcome, by=winner.slack_user if winner else None)

    @staticmethod
    async def _held_back(uow: UnitOfWork, failed: MessageRecord) -> list[MessageRecord]:
        """The later parts of the same reply that were not sent because this one failed."""
        if failed.slack_ts is None:
            return []
        parts = current_parts(
            await uow.messages.parts_of_reply(failed.conversation_id, failed.slack_ts)
        )
        place = next((n for n, p in enumerate(parts) if p.id == failed.id), None)
        if place is None:
            return []
        return [
            p
            for p in parts[place + 1 :]
            if p.status == MessageStatus.FAILED and p.error_title == EARLIER_PART_NOT_SENT
        ]
