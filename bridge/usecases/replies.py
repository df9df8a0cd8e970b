"""An agent replies in a thread: queue it for WhatsApp if the window allows.

``Replies.queue`` records the reply (in parts, when it is longer than WhatsApp allows) and
queues its sends in one transaction; ``usecases/sending.py`` sends them. An agent's edit or
delete changes a reply still queued (``ReplyChanges``). The text arrives already converted
from Slack's encoding: the core never sees it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bridge.domain import (
    REFUSED_WINDOW_CLOSED,
    Direction,
    MessageStatus,
    Notice,
    NoticeKind,
    SenderType,
    window_is_open,
)
from bridge.domain.media import CAPTIONED, MAX_CAPTION, outbound_file
from bridge.domain.text import split_text
from bridge.jobs import MarkRead, SendReply
from bridge.ports import (
    Clock,
    NewMessage,
    QueuedJob,
    UnitOfWork,
    UnitOfWorkFactory,
)
from bridge.usecases.counts import REPLIES_WINDOW_CLOSED
from bridge.usecases.notices import queue_notice

__all__ = [
    "REPLY_KEY_PREFIX",
    "REPLY_SETTLE",
    "AgentFile",
    "ChangeOutcome",
    "Quote",
    "Replies",
    "ReplyChanges",
    "ReplyOutcome",
    "ReplyResult",
    "settle_time",
]

log = logging.getLogger(__name__)

#: How long a reply waits before it may be sent while another of Slack's requests is being
#: received (or always, with ``always_settle``). Slack may hand two quick replies to
#: concurrent listeners (or processes) that store them in either order; sends are ordered by
#: Slack's own timestamps, and this is how long a straggler has to take its place. A reply
#: that arrives alone goes at once.
REPLY_SETTLE: Final = timedelta(milliseconds=250)


def settle_time(settle: timedelta, *, always: bool, arriving: bool) -> timedelta:
    """How long an agent's reply (or reaction) waits before it may be sent."""
    return settle if always or arriving else timedelta(0)


#: How the idempotency key of a thread reply begins (``slack:<channel>:<ts>``).
REPLY_KEY_PREFIX: Final = "slack:"
#: A quote is matched against this many of the customer's latest messages.
QUOTE_LOOKBACK: Final = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentFile:
    """A file an agent shared in the thread, as Slack describes it."""

    id: str
    name: str
    mime_type: str
    size: int
    url: str
    #: Why the bridge cannot fetch it, if it cannot (a link to a file kept elsewhere, say):
    #: the agent is told so, and nothing is sent for it.
    unavailable: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mime_type": self.mime_type,
            "size": self.size,
            "url": self.url,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """A customer message an agent's reply points at: a link to its post (``slack_ts``) or
    its words quoted (``text``). ``rest`` is the reply without the link or quote."""

    slack_ts: str | None = None
    text: str | None = None
    rest: str = ""


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


async def _quoted_wamid(uow: UnitOfWork, conversation_id: int, quote: Quote | None) -> str | None:
    """The wamid of the customer message a quote points at, if it is one of this thread's."""
    if quote is None:
        return None
    if quote.slack_ts is not None:
        linked = await uow.messages.inbound_by_slack_ts(conversation_id, quote.slack_ts)
        return linked.wamid if linked is not None else None
    if quote.text and _normal(quote.text):
        wanted = _normal(quote.text)
        for message in await uow.messages.recent_inbound(conversation_id, limit=QUOTE_LOOKBACK):
            said = message.content.get("text") or message.content.get("caption")
            if isinstance(said, str) and _normal(said) == wanted:
                return message.wamid
    return None


class ReplyOutcome(enum.StrEnum):
    QUEUED = "queued"
    WINDOW_CLOSED = "window_closed"
    EMPTY = "empty"
    DUPLICATE = "duplicate"
    NOT_A_CONVERSATION = "not_a_conversation"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyResult:
    outcome: ReplyOutcome
    conversation_id: int | None = None
    message_ids: tuple[int, ...] = ()


class Replies:
    """Takes agents' thread replies in."""

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

    def _wait(self, others_arriving: bool) -> timedelta:
        return settle_time(self._settle, always=self._always_settle, arriving=others_arriving)

    async def queue(
        self,
        *,
        channel: str,
        thread_ts: str,
        slack_ts: str,
        posted_at: datetime,
        user: str,
        text: str,
        event_id: str | None,
        files: Sequence[AgentFile] = (),
        quote: Quote | None = None,
        others_arriving: Callable[[], bool] = lambda: True,
    ) -> ReplyResult:
        """Queue a reply (its text, in parts if long, and its files) for WhatsApp if the
        window allows; else tell the agent why not.

        ``posted_at`` is when Slack says the agent posted it: replies go out in that order.
        ``quote`` is a customer message the agent quoted or linked: the reply then quotes it
        on WhatsApp too. ``others_arriving`` tells whether another of Slack's requests is
        being received meanwhile (asked as late as possible, just before the reply is
        queued): the reply then waits ``settle`` for a straggler.
        """
        now = self._clock.now()
        async with self._uow() as uow:
            if event_id is not None and not await uow.slack_events.remember(event_id, now=now):
                return ReplyResult(outcome=ReplyOutcome.DUPLICATE)
            found = await uow.conversations.replying_in(channel=channel, thread_ts=thread_ts)
            if found is None:
                await uow.commit()
                log.info(
                    "reply not taken: not a conversation's thread", extra={"slack_ts": slack_ts}
                )
                return ReplyResult(outcome=ReplyOutcome.NOT_A_CONVERSATION)
            conversation, latest_inbound = found
            ids = {"conversation_id": conversation.id, "slack_ts": slack_ts}
            wait = self._wait(others_arriving())
            result = await self._queue(
                uow,
                conversation_id=conversation.id,
                window_expires_at=conversation.window_expires_at,
                latest_inbound=latest_inbound,
                channel=channel,
                slack_ts=slack_ts,
                posted_at=posted_at,
                user=user,
                text=text,
                files=files,
                quote=quote,
                now=now,
                wait=wait,
            )
            await uow.commit()
        if result.outcome == ReplyOutcome.QUEUED:
            self._on_queued(wait.total_seconds())
        log.info(
            "reply taken",
            extra={
                **ids,
                "message_id": result.message_ids[0] if result.message_ids else None,
                "outcome": result.outcome.value,
                "parts": len(result.message_ids),
                "held_ms": round(wait.total_seconds() * 1000),
            },
        )
        return result

    async def _queue(
        self,
        uow: UnitOfWork,
        *,
        conversation_id: int,
        window_expires_at: datetime | None,
        latest_inbound: str | None,
        channel: str,
        slack_ts: str,
        posted_at: datetime,
        user: str,
        text: str,
        files: Sequence[AgentFile],
        quote: Quote | None,
        now: datetime,
        wait: timedelta,
    ) -> ReplyResult:
        if not window_is_open(window_expires_at, now=now):
            refused = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type="text",
                    content={"text": text, "files": [f.name for f in files]}
                    if files
                    else {"text": text},
                    status=MessageStatus.FAILED,
                    created_at=now,
                    slack_user=user,
                    slack_ts=slack_ts,
                    idempotency_key=f"{REPLY_KEY_PREFIX}{channel}:{slack_ts}",
                )
            )
            if refused is None:
                return ReplyResult(outcome=ReplyOutcome.DUPLICATE, conversation_id=conversation_id)
            await uow.counters.add(REPLIES_WINDOW_CLOSED)
            # Kept, failed, with the reason: refused replies show in the REST API and /wa status.
            await uow.messages.mark_failed(
                refused.id,
                at=now,
                code=None,
                title=REFUSED_WINDOW_CLOSED,
                details="the 24-hour window was closed; nothing was sent",
            )
            notice = Notice(
                kind=NoticeKind.WINDOW_CLOSED,
                window_expires_at=window_expires_at,
                reply_ts=slack_ts,
            )
            await queue_notice(uow, conversation_id, notice, now=now)
            return ReplyResult(outcome=ReplyOutcome.WINDOW_CLOSED, conversation_id=conversation_id)
        reply_to = await _quoted_wamid(uow, conversation_id, quote)
        if reply_to is not None and quote is not None:
            text = quote.rest  # the customer sees WhatsApp's own quote instead
        sendable: list[tuple[AgentFile, str]] = []
        for file in files:
            fit = outbound_file(file.name, file.mime_type, file.size)
            refusal = file.unavailable or fit.refusal
            if refusal is not None:
                notice = Notice(
                    kind=NoticeKind.FILE_NOT_SENT, error_details=refusal, reply_ts=slack_ts
                )
                await queue_notice(uow, conversation_id, notice, now=now)
            else:
                sendable.append((file, fit.kind))
        caption: str | None = None
        if (
            len(sendable) == 1
            and sendable[0][1] in CAPTIONED
            and 0 < len(text.strip()) <= MAX_CAPTION
        ):
            caption, text = text.strip(), ""  # one picture with a few words: a caption
        parts = split_text(text.strip()) if text.strip() else []
        if not parts and not sendable:
            if not files:
                # Caught before any call: Meta would refuse an empty text; a retry cannot help.
                await queue_notice(
                    uow,
                    conversation_id,
                    Notice(kind=NoticeKind.REPLY_EMPTY, reply_ts=slack_ts),
                    now=now,
                )
            return ReplyResult(outcome=ReplyOutcome.EMPTY, conversation_id=conversation_id)
        items: list[tuple[str, dict[str, Any]]] = []
        for number, part in enumerate(parts, start=1):
            content: dict[str, Any] = {"text": part}
            if len(parts) > 1:
                content.update(part=number, parts=len(parts))
            items.append(("text", content))
        for file, kind in sendable:
            content = {"file": file.as_json()}
            if caption is not None:
                content["caption"] = caption
            if kind == "document":
                content["filename"] = file.name
            items.append((kind, content))
        if reply_to is not None:
            items[0][1]["reply_to"] = reply_to
        message_ids: list[int] = []
        sends: list[QueuedJob] = []
        for number, (message_type, content) in enumerate(items, start=1):
            key = f"{REPLY_KEY_PREFIX}{channel}:{slack_ts}" + (f"#{number}" if number > 1 else "")
            message = await uow.messages.add(
                NewMessage(
                    conversation_id=conversation_id,
                    direction=Direction.OUTBOUND,
                    sender_type=SenderType.AGENT,
                    message_type=message_type,
                    content=content,
                    status=MessageStatus.PENDING,
                    created_at=now,
                    slack_user=user,
                    slack_ts=slack_ts,
                    idempotency_key=key,
                )
            )
            if message is None:  # this Slack message was taken before (an event sent twice)
                return ReplyResult(outcome=ReplyOutcome.DUPLICATE, conversation_id=conversation_id)
            message_ids.append(message.id)
            sends.append(
                QueuedJob(
                    job=SendReply(conversation_id=conversation_id, message_id=message.id),
                    seq=posted_at,
                    arrival=number,
                    not_before=now + wait,
                )
            )
        if latest_inbound is not None:
            # Behind the sends in the same lane: the customer sees "read" as the answer comes.
            sends.append(
                QueuedJob(
                    job=MarkRead(conversation_id=conversation_id, wamid=latest_inbound),
                    seq=posted_at,
                    arrival=len(items) + 1,
                    not_before=now + wait,
                )
            )
        await uow.jobs.enqueue_many(sends, now=now)
        if len(parts) > 1:
            notice = Notice(kind=NoticeKind.REPLY_SPLIT, parts=len(parts), reply_ts=slack_ts)
            await queue_notice(uow, conversation_id, notice, now=now)
        return ReplyResult(
            outcome=ReplyOutcome.QUEUED,
            conversation_id=conversation_id,
            message_ids=tuple(message_ids),
        )


class ChangeOutcome(enum.StrEnum):
    APPLIED = "applied"
    TOO_LATE = "too_late"
    IGNORED = "ignored"


class ReplyChanges:
    """An agent edits or deletes a thread reply. WhatsApp cannot edit or delete a message
    once sent, so only a reply still queued changes; otherwise the agent is told."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def edit(
        self, *, channel: str, slack_ts: str, text: str, event_id: str | None
    ) -> ChangeOutcome:
        return await self._change(channel=channel, slack_ts=slack_ts, text=text, event_id=event_id)

    async def delete(self, *, channel: str, slack_ts: str, event_id: str | None) -> ChangeOutcome:
        return await self._change(channel=channel, slack_ts=slack_ts, text=None, event_id=event_id)

    async def _change(
        self, *, channel: str, slack_ts: str, text: str | None, event_id: str | None
    ) -> ChangeOutcome:
        now = self._clock.now()
        async with self._uow() as uow:
            if event_id is not None and not await uow.slack_events.remember(event_id, now=now):
                return ChangeOutcome.IGNORED
            message = await uow.messages.by_idempotency_key(
                f"{REPLY_KEY_PREFIX}{channel}:{slack_ts}"
            )
            if message is None or message.status == MessageStatus.FAILED:
                await uow.commit()  # not a reply we took, or one that never went out
                return ChangeOutcome.IGNORED
            split = int(message.content.get("parts", 1)) > 1
            if text is None:
                applied = not split and await uow.messages.cancel_queued(message.id, at=now)
                kind = NoticeKind.REPLY_CANCELLED if applied else NoticeKind.DELETE_NOT_DELIVERED
            else:
                parts = split_text(text.strip()) if text.strip() else []
                applied = (
                    not split
                    and len(parts) == 1
                    and await uow.messages.replace_queued_text(message.id, parts[0])
                )
                kind = NoticeKind.EDIT_APPLIED if applied else NoticeKind.EDIT_NOT_DELIVERED
            await queue_notice(
                uow, message.conversation_id, Notice(kind=kind, reply_ts=slack_ts), now=now
            )
            await uow.commit()
        log.info(
            "reply changed" if applied else "reply change not delivered",
            extra={"conversation_id": message.conversation_id, "message_id": message.id},
        )
        return ChangeOutcome.APPLIED if applied else ChangeOutcome.TOO_LATE
