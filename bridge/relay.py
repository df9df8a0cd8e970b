"""The use cases: what happens when a customer writes, a status arrives, or an agent replies.

Each use case is idempotent: a repeated wamid, status or Slack event changes
nothing. ``receive_inbound`` and ``apply_status`` run inside the caller's unit of
work (the inbox worker handles a whole webhook in one transaction).
``send_reply`` records the agent's reply and queues its send in one transaction;
the outbox worker then calls ``deliver_reply``, which talks to Meta between two
transactions, because a database transaction must never wait on the network.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bridge.domain import (
    Direction,
    InboundMessage,
    MessageStatus,
    SenderType,
    StatusUpdate,
    advance_status,
    window_expires_at,
    window_is_open,
)
from bridge.errors import DeliveryError
from bridge.ports import (
    Clock,
    ConversationRecord,
    NewMessage,
    Notice,
    UnitOfWork,
    UnitOfWorkFactory,
    WhatsApp,
)

__all__ = [
    "OUTBOX_CUSTOMER_MESSAGE",
    "OUTBOX_DELIVERY",
    "OUTBOX_NOTICE",
    "OUTBOX_WHATSAPP_SEND",
    "Relay",
    "ReplyOutcome",
    "ReplyResult",
    "StatusOutcome",
    "notice_from_payload",
    "notice_payload",
    "send_retry_delay",
]

log = logging.getLogger(__name__)

OUTBOX_CUSTOMER_MESSAGE = "customer_message"
OUTBOX_DELIVERY = "delivery"
OUTBOX_NOTICE = "notice"
OUTBOX_WHATSAPP_SEND = "whatsapp_send"
#: Sends that Meta asked us to retry wait in their own lane, so Slack work never waits on them.
LANE_WHATSAPP = "whatsapp"

#: A send Meta keeps refusing as transient is tried this often: minutes in all, longer for
#: the pair rate.
MAX_SEND_ATTEMPTS = 8
#: Meta's closed-window error, also used when the window closes while a send waits.
WINDOW_CLOSED_CODE = 131047
#: The pair-rate error: Meta asks for 4^n seconds between tries to the same user.
PAIR_RATE_CODE = 131056

#: A status for a wamid we do not know yet may be racing our own commit of that wamid.
UNKNOWN_STATUS_GRACE = timedelta(minutes=2)

_STATUS_TIME_FIELD = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
}


def send_retry_delay(attempt: int, code: int | None) -> timedelta:
    """How long a throttled send waits before try ``attempt + 1``."""
    base = 4.0 if code == PAIR_RATE_CODE else 2.0
    return timedelta(seconds=min(600.0, base**attempt))


class StatusOutcome(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    UNKNOWN_MESSAGE = "unknown_message"


class ReplyOutcome(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    RETRYING = "retrying"
    WINDOW_CLOSED = "window_closed"
    DUPLICATE = "duplicate"
    NOT_A_CONVERSATION = "not_a_conversation"


def notice_payload(notice: Notice) -> dict[str, Any]:
    """A notice as JSON for the outbox."""
    return {
        "kind": notice.kind,
        "window_expires_at": (
            notice.window_expires_at.isoformat() if notice.window_expires_at else None
        ),
        "error_code": notice.error_code,
        "error_title": notice.error_title,
        "error_details": notice.error_details,
        "reply_ts": notice.reply_ts,
    }


def notice_from_payload(payload: dict[str, Any]) -> Notice:
    expires = payload.get("window_expires_at")
    return Notice(
        kind=str(payload["kind"]),
        window_expires_at=datetime.fromisoformat(expires) if expires else None,
        error_code=payload.get("error_code"),
        error_title=payload.get("error_title"),
        error_details=payload.get("error_details"),
        reply_ts=payload.get("reply_ts"),
    )


async def _enqueue_notice(
    uow: UnitOfWork, conversation_id: int, notice: Notice, *, now: datetime
) -> None:
    await uow.outbox.enqueue(
        conversation_id=conversation_id,
        kind=OUTBOX_NOTICE,
        payload=notice_payload(notice),
        now=now,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyResult:
    outcome: ReplyOutcome
    message_id: int | None = None
    wamid: str | None = None
    error: DeliveryError | None = None


class Relay:
    """The bridge's use cases, wired to the ports they need."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        whatsapp: WhatsApp,
        clock: Clock,
        slack_channel: str,
        on_outbound_work: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = uow
        self._whatsapp = whatsapp
        self._clock = clock
        self._channel = slack_channel
        self._on_outbound_work = on_outbound_work
        # Weak values: a thread's lock lives only while some reply is using it.
        self._thread_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    # --- inbound: runs inside the inbox worker's transaction ------------------------------

    async def receive_inbound(self, uow: UnitOfWork, event: InboundMessage) -> bool:
        """Store a customer message and queue its Slack post. False if it was already stored."""
        now = self._clock.now()
        conversation = await uow.conversations.get_or_create(
            phone_number_id=event.phone_number_id,
            display_phone_number=event.display_phone_number,
            contact_id=event.contact_id,
            contact_name=event.contact_name,
            slack_channel=self._channel,
            now=now,
        )
        content: dict[str, Any] = dict(event.content)
        if event.text is not None:
            content["text"] = event.text
        if event.context_wamid:
            content["context_wamid"] = event.context_wamid
        message = await uow.messages.add(
            NewMessage(
                conversation_id=conversation.id,
                direction=Direction.INBOUND,
                sender_type=SenderType.CONTACT,
                message_type=event.message_type,
                content=content,
                status=MessageStatus.RECEIVED,
                created_at=event.timestamp,
                wamid=event.wamid,
            )
        )
        if message is None:
            log.info(
                "inbound duplicate ignored",
                extra={"conversation_id": conversation.id, "wamid": event.wamid},
            )
            return False
        await uow.conversations.record_message(
            conversation.id,
            at=event.timestamp,
            from_contact=True,
            window_expires_at=window_expires_at(event.timestamp),
        )
        await uow.outbox.enqueue(
            conversation_id=conversation.id,
            kind=OUTBOX_CUSTOMER_MESSAGE,
            payload={"message_id": message.id},
            now=now,
        )
        log.info(
            "inbound stored",
            extra={
                "conversation_id": conversation.id,
                "message_id": message.id,
                "wamid": event.wamid,
                "message_type": event.message_type,
            },
        )
        return True

    async def apply_status(self, uow: UnitOfWork, event: StatusUpdate) -> StatusOutcome:
        """Move a sent message's status forward, never back, and queue its Slack display."""
        message = await uow.messages.by_wamid(event.wamid)
        if message is None:
            return StatusOutcome.UNKNOWN_MESSAGE
        if event.status is None:
            return StatusOutcome.UNCHANGED
        new = advance_status(message.status, event.status)
        if new is None:
            return StatusOutcome.UNCHANGED
        fields: dict[str, Any] = {"status": new}
        if (time_field := _STATUS_TIME_FIELD.get(new)) is not None:
            fields[time_field] = event.timestamp
        if new == MessageStatus.FAILED:
            fields.update(
                error_code=event.error_code,
                error_title=event.error_title,
                error_message=event.error_details,
            )
        await uow.messages.update(message.id, **fields)
        now = self._clock.now()
        await uow.outbox.enqueue(
            conversation_id=message.conversation_id,
            kind=OUTBOX_DELIVERY,
            payload={"message_id": message.id},
            now=now,
        )
        if new == MessageStatus.FAILED:
            notice = Notice(
                kind="delivery_failed",
                error_code=event.error_code,
                error_title=event.error_title,
                error_details=event.error_details,
                reply_ts=message.slack_ts,
            )
            await _enqueue_notice(uow, message.conversation_id, notice, now=now)
        log.info(
            "status applied",
            extra={
                "conversation_id": message.conversation_id,
                "message_id": message.id,
                "wamid": event.wamid,
                "status": new.value,
            },
        )
        return StatusOutcome.APPLIED

    def status_may_be_early(self, event: StatusUpdate) -> bool:
        """Whether an unknown wamid's status is recent enough to be racing our own send."""
        return self._clock.now() - event.timestamp < UNKNOWN_STATUS_GRACE

    # --- outbound: an agent's reply in a thread -------------------------------------------

    async def send_reply(
        self,
        *,
        channel: str,
        thread_ts: str,
        slack_ts: str,
        user: str,
        text: str,
        event_id: str | None,
    ) -> ReplyResult:
        """Queue an agent's thread reply for WhatsApp if the window allows; else tell them."""
        # Slack's events for one thread arrive in order, but their listeners run as concurrent
        # tasks; queueing one thread's replies one at a time keeps the customer's order.
        lock = self._thread_locks.setdefault((channel, thread_ts), asyncio.Lock())
        async with lock:
            now = self._clock.now()
            async with self._uow() as uow:
                if event_id is not None and not await uow.slack_events.remember(event_id, now=now):
                    return ReplyResult(outcome=ReplyOutcome.DUPLICATE)
                conversation = await uow.conversations.by_thread(
                    channel=channel, thread_ts=thread_ts
                )
                if conversation is None:
                    await uow.commit()
                    return ReplyResult(outcome=ReplyOutcome.NOT_A_CONVERSATION)
                if not window_is_open(conversation.window_expires_at, now=now):
                    closed = Notice(
                        kind="window_closed",
                        window_expires_at=conversation.window_expires_at,
                        reply_ts=slack_ts,
                    )
                    await _enqueue_notice(uow, conversation.id, closed, now=now)
                    await uow.commit()
                    log.info(
                        "reply refused: window closed",
                        extra={"conversation_id": conversation.id, "slack_ts": slack_ts},
                    )
                    return ReplyResult(outcome=ReplyOutcome.WINDOW_CLOSED)
                message = await uow.messages.add(
                    NewMessage(
                        conversation_id=conversation.id,
                        direction=Direction.OUTBOUND,
                        sender_type=SenderType.AGENT,
                        message_type="text",
                        content={"text": text},
                        status=MessageStatus.PENDING,
                        created_at=now,
                        slack_user=user,
                        slack_ts=slack_ts,
                        idempotency_key=f"slack:{channel}:{slack_ts}",
                    )
                )
                if message is None:
                    await uow.commit()
                    return ReplyResult(outcome=ReplyOutcome.DUPLICATE)
                # The send itself is outbox work: it survives a crash, keeps an agent's quick
                # replies in order, and waits its turn when Meta asks us to slow down.
                await uow.outbox.enqueue(
                    conversation_id=conversation.id,
                    kind=OUTBOX_WHATSAPP_SEND,
                    payload={"message_id": message.id, "attempt": 1},
                    now=now,
                    lane=LANE_WHATSAPP,
                )
                await uow.commit()
            self._on_outbound_work()
            log.info(
                "reply queued",
                extra={"conversation_id": conversation.id, "message_id": message.id},
            )
            return ReplyResult(outcome=ReplyOutcome.QUEUED, message_id=message.id)

    async def deliver_reply(self, *, message_id: int, attempt: int) -> ReplyResult:
        """Send a queued reply to WhatsApp: try ``attempt``; a transient refusal queues the next."""
        async with self._uow() as uow:
            message = await uow.messages.get(message_id)
            conversation = await uow.conversations.get(message.conversation_id) if message else None
            latest_inbound = (
                await uow.messages.latest_inbound(message.conversation_id) if message else None
            )
        if (
            message is None
            or conversation is None
            or message.status != MessageStatus.PENDING
            or message.wamid is not None
        ):
            return ReplyResult(outcome=ReplyOutcome.DUPLICATE, message_id=message_id)
        if not window_is_open(conversation.window_expires_at, now=self._clock.now()):
            closed = DeliveryError(
                code=WINDOW_CLOSED_CODE,
                title="Re-engagement message",
                details="the 24-hour window closed while the reply waited to be retried",
                transient=False,
            )
            await self._record_failure(message.id, conversation.id, message.slack_ts, closed)
            return ReplyResult(outcome=ReplyOutcome.FAILED, message_id=message.id, error=closed)
        return await self._deliver(
            conversation=conversation,
            message_id=message.id,
            text=str(message.content.get("text", "")),
            slack_ts=message.slack_ts,
            read_up_to=latest_inbound.wamid if latest_inbound is not None else None,
            attempt=attempt,
        )

    async def _deliver(
        self,
        *,
        conversation: ConversationRecord,
        message_id: int,
        text: str,
        slack_ts: str | None,
        read_up_to: str | None,
        attempt: int,
    ) -> ReplyResult:
        ids = {"conversation_id": conversation.id, "message_id": message_id, "attempt": attempt}
        try:
            wamid = await self._whatsapp.send_text(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                text=text,
            )
        except DeliveryError as error:
            if error.transient and attempt < MAX_SEND_ATTEMPTS:
                await self._schedule_retry(conversation.id, message_id, slack_ts, attempt, error)
                log.warning("reply delayed", extra={**ids, "error_code": error.code})
                return ReplyResult(
                    outcome=ReplyOutcome.RETRYING, message_id=message_id, error=error
                )
            await self._record_failure(message_id, conversation.id, slack_ts, error)
            log.warning(
                "reply failed",
                extra={**ids, "error_code": error.code, "transient": error.transient},
            )
            return ReplyResult(outcome=ReplyOutcome.FAILED, message_id=message_id, error=error)

        sent_at = self._clock.now()
        async with self._uow() as uow:
            current = await uow.messages.get(message_id)
            # A status webhook cannot have moved it yet (it did not know the wamid), so only
            # ``pending`` is expected here; advance_status keeps that an invariant, not a hope.
            status = MessageStatus.PENDING if current is None else current.status
            fields: dict[str, Any] = {"wamid": wamid}
            if advance_status(status, MessageStatus.SENT) is not None:
                fields.update(status=MessageStatus.SENT, sent_at=sent_at)
            await uow.messages.update(message_id, **fields)
            await uow.conversations.record_message(
                conversation.id, at=sent_at, from_contact=False, window_expires_at=None
            )
            await uow.outbox.enqueue(
                conversation_id=conversation.id,
                kind=OUTBOX_DELIVERY,
                payload={"message_id": message_id},
                now=sent_at,
            )
            await uow.commit()
        log.info("reply sent", extra={**ids, "wamid": wamid})

        if read_up_to is not None:
            try:
                await self._whatsapp.mark_read(
                    phone_number_id=conversation.phone_number_id, wamid=read_up_to
                )
            except DeliveryError as error:
                # A missed read receipt is cosmetic; the reply itself went out.
                log.warning("mark read failed", extra={**ids, "error_code": error.code})
        return ReplyResult(outcome=ReplyOutcome.SENT, message_id=message_id, wamid=wamid)

    async def _schedule_retry(
        self,
        conversation_id: int,
        message_id: int,
        slack_ts: str | None,
        attempt: int,
        error: DeliveryError,
    ) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.outbox.enqueue(
                conversation_id=conversation_id,
                kind=OUTBOX_WHATSAPP_SEND,
                payload={"message_id": message_id, "attempt": attempt + 1},
                now=now,
                lane=LANE_WHATSAPP,
                not_before=now + send_retry_delay(attempt, error.code),
            )
            if attempt == 2:  # a blip passes unnoticed; tell the agent once, on the second refusal
                notice = Notice(
                    kind="send_delayed",
                    error_code=error.code,
                    error_title=error.title,
                    reply_ts=slack_ts,
                )
                await _enqueue_notice(uow, conversation_id, notice, now=now)
            await uow.commit()

    async def _record_failure(
        self, message_id: int, conversation_id: int, slack_ts: str | None, error: DeliveryError
    ) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.messages.update(
                message_id,
                status=MessageStatus.FAILED,
                failed_at=now,
                error_code=error.code,
                error_title=error.title,
                error_message=error.details or None,
            )
            await uow.outbox.enqueue(
                conversation_id=conversation_id,
                kind=OUTBOX_DELIVERY,
                payload={"message_id": message_id},
                now=now,
            )
            notice = Notice(
                kind="delivery_failed",
                error_code=error.code,
                error_title=error.title,
                error_details=error.details or None,
                reply_ts=slack_ts,
            )
            await _enqueue_notice(uow, conversation_id, notice, now=now)
            await uow.commit()
