"""The inbox and outbox loops.

The inbox worker turns stored webhook bodies into domain changes, one webhook
per transaction. The outbox worker performs the Slack side of those changes,
in order per conversation, retrying with exponential backoff and honouring a
``Retry-After``. Both claim rows and commit when done, so a crash at any point
leaves the work in the database for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bridge.domain import InboundMessage, StatusUpdate, UnknownEvent, reached_stages
from bridge.errors import ChatError, WebhookParseError
from bridge.ports import (
    ChatSurface,
    Clock,
    ContactView,
    ConversationRecord,
    CustomerMessageView,
    InboxRow,
    OutboxItem,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookParser,
)
from bridge.relay import (
    OUTBOX_CUSTOMER_MESSAGE,
    OUTBOX_DELIVERY,
    OUTBOX_NOTICE,
    OUTBOX_WHATSAPP_SEND,
    Relay,
    StatusOutcome,
    notice_from_payload,
)

__all__ = ["InboxWorker", "OutboxWorker", "Wakeable", "backoff_delay", "run_loop"]

log = logging.getLogger(__name__)

#: A webhook whose processing keeps raising is set aside as a dead letter after this many tries.
INBOX_MAX_ATTEMPTS = 8
#: Unknown-wamid statuses are re-read this many times before they are let go.
UNKNOWN_STATUS_RETRIES = 4
MAX_BACKOFF = 300.0


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = MAX_BACKOFF) -> float:
    """Exponential backoff with full jitter in the upper half: attempt 1 waits ~base."""
    delay: float = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.random() * delay / 2


class Wakeable:
    """A nudge: whoever stores new work calls ``wake`` so the loop need not wait its poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


class InboxWorker:
    """Stored webhooks -> conversations, messages, statuses and queued Slack work."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        parser: WebhookParser,
        relay: Relay,
        clock: Clock,
        on_outbox_work: Callable[[], None] = lambda: None,
        batch: int = 10,
    ) -> None:
        self._uow = uow
        self._parser = parser
        self._relay = relay
        self._clock = clock
        self._on_outbox_work = on_outbox_work
        self._batch = batch

    async def run_once(self) -> int:
        """Process a batch of pending webhooks in one transaction; returns how many were taken.

        If anything in the batch fails, the batch rolls back and its webhooks are taken one
        by one, so one bad webhook only delays the others and is retried or set aside alone.
        """
        async with self._uow() as uow:
            rows = await uow.inbox.claim(now=self._clock.now(), limit=self._batch)
            if not rows:
                return 0
            try:
                for row in rows:
                    await self._process(uow, row)
                await uow.commit()
                batch_failed = False
            except Exception:
                log.warning("inbox batch failed; taking its webhooks one by one")
                batch_failed = True
        if batch_failed:
            for row in rows:
                await self._run_single(row)
        self._on_outbox_work()
        return len(rows)

    async def _run_single(self, row: InboxRow) -> None:
        failed: Exception | None = None
        async with self._uow() as uow:
            try:
                await self._process(uow, row)
                await uow.commit()
            except Exception as error:
                log.exception("inbox row failed", extra={"inbox_id": row.id})
                failed = error
        if failed is not None:
            await self._retry_or_bury(row, failed)

    async def _process(self, unit: UnitOfWork, row: InboxRow) -> None:
        try:
            events = self._parser.parse(row.body)
        except WebhookParseError as error:
            await unit.inbox.dead(row.id, error=str(error))
            log.warning("webhook dead-lettered", extra={"inbox_id": row.id, "reason": str(error)})
            return
        early_statuses = 0
        for event in events:
            if isinstance(event, InboundMessage):
                await self._relay.receive_inbound(unit, event)
            elif isinstance(event, StatusUpdate):
                outcome = await self._relay.apply_status(unit, event)
                if outcome == StatusOutcome.UNKNOWN_MESSAGE:
                    if self._relay.status_may_be_early(event):
                        early_statuses += 1
                    else:
                        log.info(
                            "status for an unknown message ignored",
                            extra={"wamid": event.wamid, "status": event.raw_status},
                        )
            elif isinstance(event, UnknownEvent):
                log.info("webhook event not handled", extra={"kind": event.kind})
        if early_statuses and row.attempts < UNKNOWN_STATUS_RETRIES:
            # Everything else in the row is idempotent, so re-reading the whole row is safe.
            not_before = self._clock.now() + timedelta(seconds=backoff_delay(row.attempts + 1))
            await unit.inbox.retry(row.id, error="status before its send", not_before=not_before)
        else:
            await unit.inbox.done(row.id)

    async def _retry_or_bury(self, row: InboxRow, error: Exception) -> None:
        async with self._uow() as uow:
            if row.attempts + 1 >= INBOX_MAX_ATTEMPTS:
                await uow.inbox.dead(row.id, error=repr(error))
            else:
                delay = backoff_delay(row.attempts + 1)
                await uow.inbox.retry(
                    row.id,
                    error=repr(error),
                    not_before=self._clock.now() + timedelta(seconds=delay),
                )
            await uow.commit()


class OutboxWorker:
    """Queued work -> Slack calls (and held-back WhatsApp sends), in order per conversation."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        chat: ChatSurface,
        relay: Relay,
        clock: Clock,
        concurrency: int = 8,
    ) -> None:
        self._uow = uow
        self._chat = chat
        self._relay = relay
        self._clock = clock
        self._concurrency = concurrency

    async def run_once(self) -> int:
        """Perform the due heads of up to ``concurrency`` conversations' queues."""
        async with self._uow() as uow:
            items = await uow.outbox.claim(now=self._clock.now(), limit=self._concurrency)
            await uow.commit()
        if items:
            await asyncio.gather(*(self._run(item) for item in items))
        return len(items)

    async def _run(self, item: OutboxItem) -> None:
        ids = {"outbox_id": item.id, "conversation_id": item.conversation_id, "kind": item.kind}
        try:
            await self._perform(item)
        except ChatError as error:
            delay = (
                error.retry_after
                if error.retry_after is not None
                else backoff_delay(item.attempts + 1)
            )
            log.warning(
                "slack work delayed",
                extra={**ids, "error": str(error), "retry_in": round(delay, 2)},
            )
            await self._retry(item, str(error), delay)
        except Exception as error:
            log.exception("slack work failed", extra=ids)
            await self._retry(item, repr(error), backoff_delay(item.attempts + 1))

    async def _retry(self, item: OutboxItem, error: str, delay: float) -> None:
        async with self._uow() as uow:
            await uow.outbox.retry(
                item.id, error=error, not_before=self._clock.now() + timedelta(seconds=delay)
            )
            await uow.commit()

    async def _conversation(self, conversation_id: int) -> ConversationRecord:
        async with self._uow() as uow:
            conversation = await uow.conversations.get(conversation_id)
        if conversation is None:
            raise LookupError(f"conversation {conversation_id} vanished")
        return conversation

    async def _thread(self, conversation: ConversationRecord, *, recheck: bool) -> str:
        if conversation.slack_thread_ts is not None:
            return conversation.slack_thread_ts
        ts = await self._chat.open_thread(
            channel=conversation.slack_channel,
            contact=ContactView(
                contact_id=conversation.contact_id,
                name=conversation.contact_name,
                business_number=conversation.display_phone_number,
            ),
            key=f"conversation:{conversation.id}",
            recheck=recheck,
        )
        # Committed at once: from now on this conversation lives on that thread.
        async with self._uow() as uow:
            await uow.conversations.set_thread(conversation.id, ts)
            await uow.commit()
        log.info("thread opened", extra={"conversation_id": conversation.id, "thread_ts": ts})
        return ts

    async def _perform(self, item: OutboxItem) -> None:
        recheck = item.attempts > 0
        if item.kind == OUTBOX_WHATSAPP_SEND:
            # The relay queues the next try itself if Meta refuses as transient.
            await self._relay.deliver_reply(
                message_id=int(item.payload["message_id"]), attempt=int(item.payload["attempt"])
            )
            await self._done(item)
            return
        conversation = await self._conversation(item.conversation_id)
        if item.kind == OUTBOX_CUSTOMER_MESSAGE:
            await self._post_customer_message(item, conversation, recheck=recheck)
        elif item.kind == OUTBOX_DELIVERY:
            await self._show_delivery(item, conversation)
        elif item.kind == OUTBOX_NOTICE:
            thread_ts = await self._thread(conversation, recheck=recheck)
            await self._chat.post_notice(
                channel=conversation.slack_channel,
                thread_ts=thread_ts,
                notice=notice_from_payload(item.payload),
                key=f"outbox:{item.id}",
                recheck=recheck,
            )
            await self._done(item)
        else:
            log.error("unknown outbox kind dropped", extra={"outbox_id": item.id})
            await self._done(item)

    async def _post_customer_message(
        self, item: OutboxItem, conversation: ConversationRecord, *, recheck: bool
    ) -> None:
        message_id = int(item.payload["message_id"])
        async with self._uow() as uow:
            message = await uow.messages.get(message_id)
        if message is None:
            raise LookupError(f"message {message_id} vanished")
        if message.slack_ts is not None:  # posted before a crash took the done mark
            await self._done(item)
            return
        thread_ts = await self._thread(conversation, recheck=recheck)
        ts = await self._chat.post_customer_message(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            message=CustomerMessageView(
                message_type=message.message_type,
                text=message.content.get("text"),
                content=message.content,
                sent_at=message.created_at,
            ),
            key=f"message:{message.id}",
            recheck=recheck,
        )
        async with self._uow() as uow:
            await uow.messages.update(message.id, slack_ts=ts)
            await uow.outbox.done(item.id)
            await uow.commit()
        log.info(
            "customer message posted",
            extra={"conversation_id": conversation.id, "message_id": message.id, "slack_ts": ts},
        )

    async def _show_delivery(self, item: OutboxItem, conversation: ConversationRecord) -> None:
        message_id = int(item.payload["message_id"])
        async with self._uow() as uow:
            message = await uow.messages.get(message_id)
        if message is None or message.slack_ts is None:
            await self._done(item)
            return
        # The latest status is read now, so a backlog of changes collapses into one display.
        stages = reached_stages(message.status)
        if {s.value for s in stages} - set(message.shown_stages):
            await self._chat.show_delivery(
                channel=conversation.slack_channel, ts=message.slack_ts, stages=stages
            )
        async with self._uow() as uow:
            shown = tuple(dict.fromkeys((*message.shown_stages, *(s.value for s in stages))))
            await uow.messages.update(message.id, shown_stages=shown)
            await uow.outbox.done(item.id)
            await uow.commit()

    async def _done(self, item: OutboxItem) -> None:
        async with self._uow() as uow:
            await uow.outbox.done(item.id)
            await uow.commit()


async def run_loop(
    name: str,
    step: Callable[[], Awaitable[int]],
    wake: Wakeable,
    *,
    idle: float = 0.5,
    stop: asyncio.Event,
) -> None:
    """Call ``step`` until ``stop`` is set; when it finds nothing, sleep ``idle`` or until woken."""
    while not stop.is_set():
        try:
            worked = await step()
        except Exception:
            log.exception("worker step failed", extra={"worker": name})
            worked = 0
        if not worked:
            await wake.wait(idle)
