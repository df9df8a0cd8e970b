"""Sending what agents and integrations queued: ``SendReplyHandler`` talks to Meta outside
any transaction, because a database transaction must never wait on the network;
``MarkReadHandler`` shows the customer their messages read.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bridge.codec import from_json
from bridge.domain import (
    DeliveryProblem,
    FailureKind,
    MessageStatus,
    MessageTemplate,
    Notice,
    NoticeKind,
    SenderType,
    window_is_open,
)
from bridge.domain.media import MEDIA_LIMITS
from bridge.errors import SLACK_REASON, DeliveryError, UnworkableJobError
from bridge.jobs import JobContext, JobFailure, JobHandler, MarkRead, SendReply
from bridge.ports import (
    ChatSurface,
    Clock,
    ConversationRecord,
    MessageRecord,
    RelayObserver,
    UnitOfWork,
    UnitOfWorkFactory,
    Unobserved,
    WhatsApp,
)
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message, read_message
from bridge.usecases.replies import REPLY_KEY_PREFIX
from bridge.usecases.statuses import queue_delivery_display, report_failed_delivery

__all__ = ["EARLIER_PART_NOT_SENT", "MarkReadHandler", "SendReplyHandler"]

log = logging.getLogger(__name__)

#: On which refused try the agent hears that a reply is waiting: a blip passes unnoticed.
TELL_AGENT_ON_ATTEMPT: Final = 2

#: The error kept on a part held back because an earlier part of its reply failed: a new
#: send of that earlier part takes these along.
EARLIER_PART_NOT_SENT: Final = "An earlier part of this reply was not sent"


class _Skip(enum.Enum):
    """``SendReplyHandler._obstacle``: the message went out already, or must not go out."""

    NOTHING_TO_SEND = enum.auto()


_NOTHING_TO_SEND: Final = _Skip.NOTHING_TO_SEND


@dataclass(frozen=True, slots=True)
class _ToSend:
    """A send frozen, and its call's start recorded, where it was queued."""

    message: MessageRecord
    conversation: ConversationRecord


#: Keys of a stored message's content that are the bridge's own, never sent to WhatsApp.
_OWN_KEYS: Final = frozenset({"part", "parts", "reply_to", "file", "files", "sent_via"})


def _posted_in_slack(message: MessageRecord) -> datetime | None:
    """When the agent posted this reply in its thread (its Slack ``ts``); None for what did
    not come from a thread reply (a template, an API send, a new send of a failed one)."""
    key = message.idempotency_key or ""
    if not key.startswith(REPLY_KEY_PREFIX) or message.slack_ts is None:
        return None
    try:
        return datetime.fromtimestamp(float(message.slack_ts), UTC)
    except ValueError:
        return None


class SendReplyHandler(JobHandler[SendReply]):
    """Sends one outbound message: a reply's text (or one part of it), an agent's file, a
    reaction, a template, or whatever the REST API was given."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        whatsapp: WhatsApp,
        chat: ChatSurface,
        clock: Clock,
        relays: RelayObserver | None = None,
    ) -> None:
        self._uow = uow
        self._whatsapp = whatsapp
        self._chat = chat
        self._clock = clock
        self._relays = relays or Unobserved()

    async def _media_id(self, message: MessageRecord, phone_number_id: str) -> str:
        """An agent's file, brought from Slack to Meta (once: a retry reuses the upload)."""
        known = message.content.get("media_id")
        if isinstance(known, str) and known:
            return known
        file = message.content["file"]
        limit = MEDIA_LIMITS.get(message.message_type, MEDIA_LIMITS["document"])
        with tempfile.TemporaryDirectory(prefix="wabridge-out-") as folder:
            path = Path(folder) / "file"
            await self._chat.download_file(url=str(file["url"]), dest=path, max_bytes=limit)
            media_id = await self._whatsapp.upload_media(
                phone_number_id=phone_number_id,
                path=path,
                mime_type=str(file["mime_type"]),
                filename=str(file["name"]),
            )
        async with self._uow() as uow:
            await uow.messages.record_media_id(message.id, media_id)
            await uow.commit()
        return media_id

    def _obstacle(
        self,
        message: MessageRecord,
        conversation: ConversationRecord,
        parts: list[MessageRecord],
        ctx: JobContext,
    ) -> DeliveryError | _Skip | None:
        """What stops this send: ``_NOTHING_TO_SEND`` (it went out, or it must not), a
        ``DeliveryError`` to raise, or None."""
        if message.wamid is not None or message.status == MessageStatus.DELETED:
            # Sent before a crash took the done mark, or the agent deleted it in time.
            return _NOTHING_TO_SEND
        if ctx.call_started:
            return DeliveryError(
                code=None,
                title="WhatsApp never answered an earlier try",
                details="the reply may or may not have reached the customer",
                kind=FailureKind.UNKNOWN_OUTCOME,
                problem=DeliveryProblem.UNKNOWN_OUTCOME,
                reason="unknown_outcome",
            )
        place = next((n for n, p in enumerate(parts) if p.id == message.id), None)
        if place is None:
            # An agent sent it again meanwhile (this is a replay of the failed send).
            log.info(
                "reply already sent again by an agent",
                extra={"conversation_id": conversation.id, "message_id": message.id},
            )
            return _NOTHING_TO_SEND
        if any(p.status == MessageStatus.FAILED for p in parts[:place]):
            return DeliveryError(
                code=None,
                title=EARLIER_PART_NOT_SENT,
                kind=FailureKind.PERMANENT,
                problem=DeliveryProblem.EARLIER_PART_FAILED,
                reason="earlier_part_failed",
            )
        if message.message_type != "template" and not window_is_open(
            conversation.window_expires_at, now=self._clock.now()
        ):
            return DeliveryError(
                code=None,
                title="The 24-hour window closed",
                details="it closed while the reply waited to be sent",
                kind=FailureKind.PERMANENT,
                problem=DeliveryProblem.WINDOW_CLOSED,
                reason="window_closed",
            )
        return None

    async def prepare(self, uow: UnitOfWork, job: SendReply, ctx: JobContext) -> _ToSend | None:
        """The usual send, read, frozen and its call's start recorded where it was queued;
        anything else (a file to upload first, a check that fails) is left to ``run``."""
        try:
            message, conversation, parts = await read_message(
                uow, conversation_id=job.conversation_id, message_id=job.message_id
            )
        except UnworkableJobError:
            return None  # gone: ``run`` finds so and ends the job, saying why
        if "file" in message.content or self._obstacle(message, conversation, parts, ctx):
            return None
        frozen = await uow.messages.begin_send(message.id, at=self._clock.now())
        if frozen is None:
            return None
        await ctx.starting_call(uow)
        return _ToSend(frozen, conversation)

    async def run(self, job: SendReply, ctx: JobContext) -> None:
        if isinstance(ctx.prepared, _ToSend):
            message, conversation = ctx.prepared.message, ctx.prepared.conversation
            upload = False
        else:
            message, conversation, parts = await load_message(
                self._uow, conversation_id=job.conversation_id, message_id=job.message_id
            )
            obstacle = self._obstacle(message, conversation, parts, ctx)
            if obstacle is _NOTHING_TO_SEND:
                await finish(self._uow, ctx)
                return
            if isinstance(obstacle, DeliveryError):
                raise obstacle
            # From the call's start until its answer is recorded, a crash leaves the outcome
            # unknown, and the next holder of this job asks the agent instead of sending
            # blindly again. Without a file to upload first, the message is frozen and the
            # call's start recorded in one transaction.
            upload = "file" in message.content
            async with self._uow() as uow:
                frozen = await uow.messages.begin_send(message.id, at=self._clock.now())
                if frozen is not None and not upload:
                    await ctx.starting_call(uow)
                await uow.commit()
            if frozen is None:  # the agent deleted it a moment ago
                await finish(self._uow, ctx)
                return
            message = frozen  # with the agent's last edit, if one came in time
        ids = {"conversation_id": conversation.id, "message_id": message.id, "attempt": ctx.attempt}
        template = message.message_type == "template"
        content = {k: v for k, v in message.content.items() if k not in _OWN_KEYS}
        if upload:
            content.pop("media_id", None)
            content = {
                "media_id": await self._media_id(message, conversation.phone_number_id),
                **content,
            }
            await ctx.starting_call()
        reply_to = message.content.get("reply_to")
        if template and "template" in message.content:  # picked in Slack: a stored template
            wamid = await self._whatsapp.send_template(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                template=from_json(MessageTemplate, message.content["template"]),
                values=dict(message.content.get("values") or {}),
            )
        else:
            wamid = await self._whatsapp.send_message(
                phone_number_id=conversation.phone_number_id,
                to=conversation.contact_id,
                message_type=message.message_type,
                content=content,
                reply_to=reply_to if isinstance(reply_to, str) else None,
            )
        sent_at = self._clock.now()
        reaction = message.message_type == "reaction"
        async with self._uow() as uow:
            # What happened outside is recorded even if the lease ran out meanwhile.
            await uow.messages.mark_sent(message.id, wamid=wamid, at=sent_at)
            if reaction:  # no post of its own: it shows as the agent's emoji on the customer's
                target = await uow.messages.by_wamid(str(message.content.get("message_id")))
                # An agent's reaction was recorded when it was queued (usecases/reactions.py):
                # recording it again as it goes out could undo a later one already queued.
                if target is not None and message.sender_type != SenderType.AGENT:
                    emoji = str(message.content.get("emoji") or "")
                    await uow.messages.set_agent_reaction(target.id, emoji or None)
            else:
                await uow.conversations.record_message(
                    conversation.id, at=sent_at, from_contact=False, window_expires_at=None
                )
                await queue_delivery_display(uow, message, now=sent_at)
            await ctx.finish(uow)
            await uow.commit()
        posted = _posted_in_slack(message)
        if posted is not None:
            self._relays.relayed_outbound(max((sent_at - posted).total_seconds(), 0.0))
        log.info("reply sent", extra={**ids, "wamid": wamid})

    async def delayed(
        self, uow: UnitOfWork, job: SendReply, failure: JobFailure, *, attempt: int
    ) -> None:
        if attempt != TELL_AGENT_ON_ATTEMPT:
            return
        failure = _told(failure)
        message = await uow.messages.get(job.message_id)
        notice = Notice(
            kind=NoticeKind.SEND_DELAYED,
            error_code=failure.code,
            error_title=failure.title,
            problem=failure.problem,
            reply_ts=message.slack_ts if message is not None else None,
        )
        await queue_notice(uow, job.conversation_id, notice, now=failure.at)

    async def failed(self, uow: UnitOfWork, job: SendReply, failure: JobFailure) -> None:
        message = await uow.messages.get(job.message_id)
        if message is None or message.wamid is not None:
            return
        failure = _told(failure)
        await report_failed_delivery(
            uow,
            message,
            at=failure.at,
            code=failure.code,
            title=failure.title,
            details=failure.details,
            problem=failure.problem,
            now=failure.at,
            kind=failure.kind,
            job_ref=f"job:{failure.job_id}",
            recorded_title=failure.title or failure.reason,
            recorded_details=failure.details or failure.error,
        )


def _told(failure: JobFailure) -> JobFailure:
    """A failure as the agent is told it: Slack's (the agent's file not handed over) named
    as such, not as WhatsApp's."""
    if failure.code is not None or not failure.reason.startswith(SLACK_REASON):
        return failure
    error = failure.reason.removeprefix(SLACK_REASON)
    return dataclasses.replace(
        failure,
        title=f"Slack would not hand the file over ({error})",
        problem=DeliveryProblem.FILE_NOT_FETCHED,
    )


class MarkReadHandler(JobHandler[MarkRead]):
    """The customer sees their messages read once an agent has answered (cosmetic)."""

    def __init__(self, *, uow: UnitOfWorkFactory, whatsapp: WhatsApp) -> None:
        self._uow = uow
        self._whatsapp = whatsapp

    async def run(self, job: MarkRead, ctx: JobContext) -> None:
        async with self._uow() as uow:
            conversation = await uow.conversations.get(job.conversation_id)
        if conversation is None:
            raise UnworkableJobError(
                f"conversation {job.conversation_id} is gone", reason="conversation_gone"
            )
        await self._whatsapp.mark_read(
            phone_number_id=conversation.phone_number_id, wamid=job.wamid
        )
