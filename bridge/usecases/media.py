"""A customer sends a picture, a video, a voice note, a document or a sticker: the message's
post (with its caption) comes first, then the file itself, fetched from Meta and uploaded
into the thread. A file that cannot come never holds up the conversation: it is retried as
its own job, and the thread says when it gave up.

The upload is reserved, recorded, then shared: after a crash, a file already shared is
found by its id instead of being shared twice.
"""

from __future__ import annotations

import logging
import mimetypes
import tempfile
from pathlib import Path
from typing import Final

from bridge.domain import Notice, NoticeKind
from bridge.errors import UnworkableJobError
from bridge.jobs import JobContext, JobFailure, JobHandler, RelayMedia
from bridge.ports import ChatSurface, MessageRecord, UnitOfWork, UnitOfWorkFactory, WhatsApp
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message, load_threaded_conversation

__all__ = ["MAX_RELAY_BYTES", "MEDIA_TYPES", "RelayMediaHandler"]

log = logging.getLogger(__name__)

#: Message types whose file is relayed.
MEDIA_TYPES: Final = frozenset({"image", "video", "audio", "voice", "document", "sticker"})
#: Meta's largest inbound media is 100 MB; Slack takes up to 1 GB. Anything bigger is refused.
MAX_RELAY_BYTES: Final = 1024**3


def file_name(message: MessageRecord, mime_type: str) -> str:
    """The file's name in Slack: the customer's own for a document, else one from its type."""
    given = message.content.get("filename")
    if isinstance(given, str) and given.strip():
        return Path(given).name
    extension = mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ".bin"
    return f"{message.message_type}-{message.id}{extension}"


class RelayMediaHandler(JobHandler[RelayMedia]):
    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface, whatsapp: WhatsApp) -> None:
        self._uow = uow
        self._chat = chat
        self._whatsapp = whatsapp

    async def run(self, job: RelayMedia, ctx: JobContext) -> None:
        message, _, _ = await load_message(
            self._uow, conversation_id=job.conversation_id, message_id=job.message_id
        )
        conversation, thread_ts = await load_threaded_conversation(self._uow, job.conversation_id)
        media_id = message.content.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise UnworkableJobError("the message names no media", reason="no_media_id")
        relay = message.content.get("relay") or {}
        if relay.get("shared"):
            await finish(self._uow, ctx)
            return
        earlier = relay.get("file_id")
        if earlier and await self._chat.file_shared(
            file_id=earlier, channel=conversation.slack_channel
        ):
            await self._record(message.id, earlier, ctx)  # shared before a crash hid it
            return
        with tempfile.TemporaryDirectory(prefix="wabridge-media-") as folder:
            path = Path(folder) / "media"
            media = await self._whatsapp.fetch_media(
                media_id,
                path,
                max_bytes=MAX_RELAY_BYTES,
                phone_number_id=conversation.phone_number_id,
            )
            name = file_name(message, media.mime_type)
            slot = await self._chat.reserve_file(filename=name, size=media.size)
            async with self._uow() as uow:
                await uow.messages.record_relay(message.id, file_id=slot.file_id, shared=False)
                await uow.commit()
            await self._chat.upload_file(slot=slot, path=path)
            await self._chat.share_file(
                slot=slot, channel=conversation.slack_channel, thread_ts=thread_ts, title=name
            )
        await self._record(message.id, slot.file_id, ctx)
        log.info(
            "customer file relayed",
            extra={
                "conversation_id": conversation.id,
                "message_id": message.id,
                "bytes": media.size,
            },
        )

    async def _record(self, message_id: int, file_id: str, ctx: JobContext) -> None:
        async with self._uow() as uow:
            await uow.messages.record_relay(message_id, file_id=file_id, shared=True)
            await ctx.finish(uow)
            await uow.commit()

    async def failed(self, uow: UnitOfWork, job: RelayMedia, failure: JobFailure) -> None:
        notice = Notice(
            kind=NoticeKind.FILE_NOT_RELAYED,
            problem=failure.problem,
            error_code=failure.code,
            error_title=failure.title,
            error_details=failure.reason,
            job_ref=f"job:{failure.job_id}",
        )
        await queue_notice(uow, job.conversation_id, notice, now=failure.at)
