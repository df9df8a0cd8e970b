"""A customer writes: store the message, open or renew the window, post it in the thread."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bridge.domain import (
    WINDOW,
    Direction,
    InboundMessage,
    MessageStatus,
    Notice,
    NoticeKind,
    SenderType,
    parent_shows_change,
    window_expires_at,
)
from bridge.errors import JobNotReadyError, UnworkableJobError
from bridge.jobs import (
    Job,
    JobContext,
    JobFailure,
    JobHandler,
    PostCustomerMessage,
    RelayMedia,
    ShowCustomerChange,
    ShowWindow,
)
from bridge.ports import (
    ChatSurface,
    Clock,
    ContactTally,
    ConversationRecord,
    CustomerMessageView,
    MessageRecord,
    NewMessage,
    QueuedJob,
    RelayObserver,
    UnitOfWork,
    UnitOfWorkFactory,
    Unobserved,
)
from bridge.usecases.media import MEDIA_TYPES
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message
from bridge.usecases.threads import ensure_thread, recheck_since

__all__ = [
    "CHANGES",
    "Arrival",
    "PostCustomerMessageHandler",
    "ShowCustomerChangeHandler",
    "receive_inbound",
    "receive_inbound_many",
]

log = logging.getLogger(__name__)

#: Message types that change an earlier message rather than add one.
CHANGES: Final = frozenset({"reaction", "edit", "revoke"})
#: How long after the customer made a change it waits for the message it changes, when that
#: message is not stored yet (its webhook overtaken). The messages after the change wait as
#: long, so it is short: a change to a message from before the bridge waits it once.
CHANGE_WAIT: Final = timedelta(seconds=5)


async def receive_inbound(
    uow: UnitOfWork,
    event: InboundMessage,
    *,
    now: datetime,
    channel: str,
    arrival: int = 0,
    received_at: datetime | None = None,
) -> bool:
    """Store a customer message and queue its Slack post, in the caller's transaction.

    False if it was stored before (Meta delivers a webhook again until it hears 200).
    ``arrival`` orders messages of the same second (Meta's timestamps are whole seconds);
    ``received_at`` is when its webhook was stored (for the relay latency).
    """
    items = [Arrival(event, channel, arrival, received_at)]
    return await receive_inbound_many(uow, items, now=now) == 1


@dataclass(frozen=True, slots=True)
class Arrival:
    """A customer message as the inbox worker hands it over: the channel of its number,
    and its place in the order messages reached us (``arrival``: messages of the same
    second, Meta's timestamps being whole seconds, keep the order they reached us)."""

    event: InboundMessage
    channel: str
    arrival: int
    #: When its webhook was stored (for the relay latency).
    received_at: datetime | None = None


async def receive_inbound_many(
    uow: UnitOfWork, arrivals: Sequence[Arrival], *, now: datetime
) -> int:
    """Store customer messages and queue their Slack posts, in the caller's transaction.

    The same effect as one by one in this order, in a few statements for the whole batch
    (the inbox worker's hot path): conversations found at once, messages inserted at once
    (a wamid stored before is a redelivery and is skipped), one update per conversation,
    jobs queued at once. In the customer's order: each post is queued by the message's own
    time, then by arrival; a change to an earlier message (a reaction, an edit, a deletion)
    shows on that message's post; a file follows its post and never holds up the messages
    behind it; the parent's window line is updated once per burst, behind the post that
    renewed it. Returns how many messages were new."""
    if not arrivals:
        return 0
    conversation_of, windows, shown = await _conversations(uow, arrivals, now=now)
    wanted: list[tuple[Arrival, int]] = []
    seen: set[str] = set()
    for item in arrivals:
        if item.event.wamid not in seen:  # the same message twice in one batch: stored once
            seen.add(item.event.wamid)
            wanted.append(
                (item, conversation_of[(item.event.phone_number_id, item.event.contact_id)])
            )
    stored = await uow.messages.add_inbound(
        [_new_message(item.event, conversation_id) for item, conversation_id in wanted]
    )
    latest: dict[int, tuple[datetime, int]] = {}
    jobs: list[QueuedJob] = []
    for item, conversation_id in wanted:
        event = item.event
        message_id = stored.get(event.wamid)
        if message_id is None:
            log.info(
                "inbound duplicate ignored",
                extra={"conversation_id": conversation_id, "wamid": event.wamid},
            )
            continue
        at, count = latest.get(conversation_id, (event.timestamp, 0))
        latest[conversation_id] = (max(at, event.timestamp), count + 1)
        renewed = event.timestamp + WINDOW
        window = conversation_id not in windows and parent_shows_change(
            shown.get(conversation_id), renewed, now=now
        )
        for job in _jobs_for(item, conversation_id, message_id, window=window):
            jobs.append(QueuedJob(job=job, seq=event.timestamp, arrival=item.arrival))
        if window:
            windows.add(conversation_id)
        log.info(
            "inbound stored",
            extra={
                "conversation_id": conversation_id,
                "message_id": message_id,
                "wamid": event.wamid,
                "message_type": event.message_type,
            },
        )
    await uow.conversations.record_contact_messages(
        {
            conversation_id: ContactTally(
                count=count, latest=at, window_expires_at=window_expires_at(at)
            )
            for conversation_id, (at, count) in latest.items()
        }
    )
    await uow.jobs.enqueue_many(jobs, now=now)
    return sum(count for _, count in latest.values())


async def _conversations(
    uow: UnitOfWork, arrivals: Sequence[Arrival], *, now: datetime
) -> tuple[dict[tuple[str, str], int], set[int], dict[int, datetime | None]]:
    """The conversation of each (number, contact) of the batch: open ones with a current
    name in one read per number; the others created, reopened or renamed one by one. And,
    read with the open ones, those whose parent's update waits already, and where each open
    one's window ends, which its parent shows (the others have neither: a new one has no
    jobs, and a reopened or renamed one is rare enough to get a second update)."""
    names: dict[str, dict[str, str | None]] = {}
    first: dict[tuple[str, str], Arrival] = {}
    for item in arrivals:
        event = item.event
        contacts = names.setdefault(event.phone_number_id, {})
        # As one by one: the last name Meta gave is the one kept.
        contacts[event.contact_id] = event.contact_name or contacts.get(event.contact_id)
        first.setdefault((event.phone_number_id, event.contact_id), item)
    found: dict[tuple[str, str], int] = {}
    waiting: set[int] = set()
    ends: dict[int, datetime | None] = {}
    for pnid, contacts in names.items():
        open_ = await uow.conversations.open_conversations(
            phone_number_id=pnid, contacts=contacts, update_job_type=ShowWindow.TYPE, now=now
        )
        for contact, open_one in open_.items():
            found[(pnid, contact)] = open_one.id
            ends[open_one.id] = open_one.window_expires_at
            if open_one.update_waiting:
                waiting.add(open_one.id)
    for key, item in first.items():
        if key not in found:
            conversation = await uow.conversations.get_or_create(
                phone_number_id=item.event.phone_number_id,
                display_phone_number=item.event.display_phone_number,
                contact_id=item.event.contact_id,
                contact_name=names[key[0]][key[1]],
                slack_channel=item.channel,
                now=now,
            )
            found[key] = conversation.id
    return found, waiting, ends


def _new_message(event: InboundMessage, conversation_id: int) -> NewMessage:
    content: dict[str, Any] = dict(event.content)
    if event.text is not None:
        content["text"] = event.text
    if event.context_wamid:
        content["context_wamid"] = event.context_wamid
    return NewMessage(
        conversation_id=conversation_id,
        direction=Direction.INBOUND,
        sender_type=SenderType.CONTACT,
        message_type=event.message_type,
        content=content,
        status=MessageStatus.RECEIVED,
        created_at=event.timestamp,
        wamid=event.wamid,
    )


def _jobs_for(item: Arrival, conversation_id: int, message_id: int, *, window: bool) -> list[Job]:
    """What a new customer message queues, in this order: its post (or the change to an
    earlier post), its file, and, unless one waits already, the parent's window update."""
    event = item.event
    jobs: list[Job] = [
        ShowCustomerChange(conversation_id=conversation_id, message_id=message_id)
        if event.message_type in CHANGES
        else PostCustomerMessage(
            conversation_id=conversation_id, message_id=message_id, received_at=item.received_at
        )
    ]
    if event.message_type in MEDIA_TYPES:
        jobs.append(RelayMedia(conversation_id=conversation_id, message_id=message_id))
    if window:
        jobs.append(ShowWindow(conversation_id=conversation_id))
    return jobs


async def view_of(uow: UnitOfWorkFactory, message: MessageRecord) -> CustomerMessageView:
    """A customer message as the thread shows it, with the text of what it replies to."""
    quoted = None
    target = message.content.get("context_wamid")
    if isinstance(target, str) and message.message_type not in CHANGES:
        async with uow() as unit:
            replied_to = await unit.messages.by_wamid(target)
        if replied_to is not None:
            quoted = str(replied_to.content.get("text") or f"[{replied_to.message_type}]")
    return CustomerMessageView(
        message_type=message.message_type,
        text=message.content.get("text"),
        content=message.content,
        sent_at=message.created_at,
        quoted=quoted,
        edited=bool(message.content.get("edited")),
    )


@dataclass(frozen=True, slots=True)
class _ToPost:
    """A customer message and its conversation, read where its post was queued."""

    message: MessageRecord
    conversation: ConversationRecord


class PostCustomerMessageHandler(JobHandler[PostCustomerMessage]):
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        chat: ChatSurface,
        clock: Clock,
        relays: RelayObserver | None = None,
    ) -> None:
        self._uow = uow
        self._chat = chat
        self._clock = clock
        self._relays = relays or Unobserved()

    async def prepare(
        self, uow: UnitOfWork, job: PostCustomerMessage, ctx: JobContext
    ) -> _ToPost | None:
        found = await uow.messages.with_conversation(job.message_id, job.conversation_id)
        if found is None or found[0].slack_ts is not None:
            return None
        return _ToPost(*found)

    async def run(self, job: PostCustomerMessage, ctx: JobContext) -> None:
        if isinstance(ctx.prepared, _ToPost):
            found: tuple[MessageRecord, ConversationRecord] | None = (
                ctx.prepared.message,
                ctx.prepared.conversation,
            )
        else:
            async with self._uow() as uow:
                found = await uow.messages.with_conversation(job.message_id, job.conversation_id)
        if found is None:
            raise UnworkableJobError(f"message {job.message_id} is gone", reason="message_gone")
        message, conversation = found
        if message.slack_ts is not None:  # posted before a crash took the done mark
            await finish(self._uow, ctx)
            return
        retried = ctx.attempt > 1
        thread_ts = await ensure_thread(
            uow=self._uow, chat=self._chat, conversation=conversation, retried=retried
        )
        ts = await self._chat.post_customer_message(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            message=await view_of(self._uow, message),
            key=ctx.uid,
            recheck_since=recheck_since(ctx.queued_at, retried=retried),
        )
        async with self._uow() as uow:
            await uow.messages.set_slack_ts(message.id, ts)
            await ctx.finish(uow)
            await uow.commit()
        if job.received_at is not None:
            latency = (self._clock.now() - job.received_at).total_seconds()
            self._relays.relayed_inbound(max(latency, 0.0))
        log.info(
            "customer message posted",
            extra={"conversation_id": conversation.id, "message_id": message.id, "slack_ts": ts},
        )

    async def failed(self, uow: UnitOfWork, job: PostCustomerMessage, failure: JobFailure) -> None:
        # A gap the agent can see: the thread says a message is missing, and how to get it.
        notice = Notice(
            kind=NoticeKind.CUSTOMER_MESSAGE_MISSING,
            error_details=failure.reason,
            job_ref=f"job:{failure.job_id}",
        )
        await queue_notice(uow, job.conversation_id, notice, now=failure.at)


class ShowCustomerChangeHandler(JobHandler[ShowCustomerChange]):
    """A customer's reaction, edit or deletion, shown on the post of the message it is about.
    A change to a message the thread never showed is posted as a line of its own; one that
    came first, its message not stored yet, waits for it a moment (``CHANGE_WAIT``): Meta's
    webhooks may come in another order than the customer's."""

    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface, clock: Clock) -> None:
        self._uow = uow
        self._chat = chat
        self._clock = clock

    async def run(self, job: ShowCustomerChange, ctx: JobContext) -> None:
        change, conversation, _ = await load_message(
            self._uow, conversation_id=job.conversation_id, message_id=job.message_id
        )
        target_wamid = change.content.get("context_wamid")
        async with self._uow() as uow:
            target = (
                await uow.messages.by_wamid(target_wamid) if isinstance(target_wamid, str) else None
            )
        now = self._clock.now()
        if target is None and now - min(change.created_at, ctx.queued_at) < CHANGE_WAIT:
            # Its webhook may be on the way still. Retried, the change waits for it: the
            # message's post goes first (it was written first), and the messages after the
            # change wait for it, in the customer's order. A change that came late waits
            # no more (its message would have come before it), and none waits longer by our
            # own clock, whatever the customer's phone said the time was.
            raise JobNotReadyError(
                f"message {target_wamid!r:.60} not stored yet", reason="changed_message_not_here"
            )
        if target is None or target.slack_ts is None:
            # Never shown (before the bridge, or its post failed): the change says it itself.
            await self._as_a_line(change, conversation, ctx)
            return
        channel, ts = conversation.slack_channel, target.slack_ts
        kind = change.message_type
        if kind == "reaction":
            emoji = change.content.get("emoji")
            previous = target.content.get("customer_reaction")
            if isinstance(previous, str) and previous and previous != emoji:
                await self._chat.unreact_for_customer(channel=channel, ts=ts, emoji=previous)
            shown = not (isinstance(emoji, str) and emoji) or await self._chat.react_for_customer(
                channel=channel, ts=ts, emoji=emoji
            )
            if not shown:  # an emoji Slack does not know: said in words, not mistaken for a status
                await self._as_a_line(change, conversation, ctx)
                return
            async with self._uow() as uow:
                await uow.messages.set_customer_reaction(target.id, emoji or None)
                await ctx.finish(uow)
                await uow.commit()
            return
        if kind == "edit":
            inner = change.content.get("message") or {}
            text = change.content.get("text")
            edited = await view_of(self._uow, target)
            await self._chat.update_customer_message(
                channel=channel,
                ts=ts,
                message=CustomerMessageView(
                    message_type=str(inner.get("type") or target.message_type),
                    text=text,
                    content={**target.content, "text": text},
                    sent_at=target.created_at,
                    quoted=edited.quoted,
                    edited=True,
                ),
            )
            async with self._uow() as uow:
                await uow.messages.record_customer_edit(target.id, text=text)
                await ctx.finish(uow)
                await uow.commit()
            return
        await self._chat.mark_customer_message_deleted(channel=channel, ts=ts)  # revoke
        async with self._uow() as uow:
            await uow.messages.mark_revoked(target.id)
            await ctx.finish(uow)
            await uow.commit()

    async def _as_a_line(
        self, change: MessageRecord, conversation: ConversationRecord, ctx: JobContext
    ) -> None:
        thread_ts = await ensure_thread(
            uow=self._uow, chat=self._chat, conversation=conversation, retried=ctx.attempt > 1
        )
        ts = await self._chat.post_customer_message(
            channel=conversation.slack_channel,
            thread_ts=thread_ts,
            message=await view_of(self._uow, change),
            key=ctx.uid,
            recheck_since=recheck_since(ctx.queued_at, retried=ctx.attempt > 1),
        )
        async with self._uow() as uow:
            await uow.messages.set_slack_ts(change.id, ts)
            await ctx.finish(uow)
            await uow.commit()
