"""The Slack side of ``bridge.ports.ChatSurface``: posts, thread replies and reactions.

Every Slack failure becomes a ``bridge.errors.ChatError`` here, and only here, with its
kind from ``slack_app.errors``: a ``429`` carries its ``Retry-After``, network trouble is
transient. Posts carry message metadata with a key unique across installations, so after a
crash a post can be found instead of being made twice.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bridge.domain import FailureKind, MessageStatus, Notice, OperatorNotice
from bridge.errors import ChatError
from bridge.ports import AgentMessageView, ContactView, CustomerMessageView, FileSlot
from slack_app.errors import ALREADY_DONE, classify
from slack_app.ids import POST_METADATA_TYPE
from slack_app.messages import (
    STAGE_REACTIONS,
    agent_message_text,
    customer_message_text,
    notice_actions,
    notice_text,
    operator_notice_text,
    thread_parent_text,
)
from slack_app.messages.customer import DELETED_TEXT
from slack_app.messages.templates import send_template_button
from slack_app.pacing import SlackPacing
from slack_app.text import slack_emoji_name

__all__ = ["SlackSurface"]

log = logging.getLogger(__name__)

#: A recheck reads at most this many pages of history (of up to 200 posts each).
MAX_RECHECK_PAGES: Final = 50
#: A file upload may take this long (a large video on a slow link), well inside the lease
#: the worker keeps extending.
UPLOAD_TIMEOUT: Final = 600.0
#: Files are read from Slack in pieces this big: memory stays flat whatever the file's size.
DOWNLOAD_CHUNK: Final = 256 * 1024
#: Where Slack serves the files agents share (the bot token is sent nowhere else).
SLACK_FILE_DOMAINS: Final = ("slack.com", "slack-edge.com", "slack-files.com")


def slack_ts(moment: datetime) -> str:
    """A moment as a Slack timestamp (for ``oldest``)."""
    return f"{moment.timestamp():.6f}"


class SlackSurface:
    """Shows the bridge's conversations in Slack through the Web API."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        pacing: SlackPacing,
        now: Callable[[], datetime],
        template_button: bool = False,
    ) -> None:
        self._client = client
        self._pacing = pacing
        self._now = now
        # The "Send template" button, where templates can be sent (META_WABA_ID is set).
        self._template_button = template_button

    async def _call(
        self, method: str, call: Awaitable[AsyncSlackResponse], *, channel: str | None = None
    ) -> dict[str, Any]:
        # Slack's pace, and any hold a 429 left (``slack_app.pacing``); ``channel`` for posts.
        try:
            await self._pacing.before(method, channel=channel)
        except BaseException:
            if inspect.iscoroutine(call):
                call.close()  # never started: it must not warn that it was never awaited
            raise
        try:
            response = await call
        except SlackApiError as error:
            status = error.response.status_code
            code = str(error.response.get("error", "")) or f"http_{status}"
            retry_after = None
            if status == 429:
                code = "ratelimited"
                retry_after = float(error.response.headers.get("Retry-After", "1"))
                await self._pacing.refused(method, channel=channel, retry_after=retry_after)
            where = f" in channel {channel}" if channel else ""
            raise ChatError(
                f"{method}: {code} (HTTP {status}){where}",
                kind=classify(code, status),
                error=code,
                retry_after=retry_after,
            ) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ChatError(
                f"{method}: {type(error).__name__}",
                kind=FailureKind.TRANSIENT,
                error="connection",
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _find(
        self, channel: str, thread_ts: str | None, key: str, since: datetime
    ) -> str | None:
        """The ts of an earlier post carrying ``key``, if a crash hid its success from us.

        Reads every page from ``since`` on: a busy thread or channel has more than one.
        """
        cursor: str | None = None
        for _ in range(MAX_RECHECK_PAGES):
            args: dict[str, Any] = {
                "channel": channel,
                "limit": 200,
                "oldest": slack_ts(since),
                "include_all_metadata": True,
            }
            if cursor:
                args["cursor"] = cursor
            if thread_ts is None:
                data = await self._call(
                    "conversations.history", self._client.conversations_history(**args)
                )
            else:
                data = await self._call(
                    "conversations.replies",
                    self._client.conversations_replies(ts=thread_ts, **args),
                )
            for message in data.get("messages", []):
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == POST_METADATA_TYPE and payload.get("key") == key:
                    return str(message["ts"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        log.warning("slack recheck stopped: too many pages", extra={"key": key})
        return None

    def _blocks(self, text: str, conversation_id: int | None) -> list[dict[str, Any]] | None:
        """The text, and the "Send template" button under it when it belongs there."""
        if not self._template_button or conversation_id is None:
            return None
        section = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        return [section, send_template_button(conversation_id)]

    async def _post(
        self,
        *,
        channel: str,
        thread_ts: str | None,
        text: str,
        key: str,
        recheck_since: datetime | None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        if recheck_since is not None:
            found = await self._find(channel, thread_ts, key, recheck_since)
            if found is not None:
                log.info("slack post found after retry", extra={"key": key, "slack_ts": found})
                return found
        data = await self._call(
            "chat.postMessage",
            self._client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=text,
                blocks=blocks,
                metadata={"event_type": POST_METADATA_TYPE, "event_payload": {"key": key}},
                unfurl_links=False,
                unfurl_media=False,
            ),
            channel=channel,
        )
        return str(data["ts"])

    async def open_thread(
        self, *, channel: str, contact: ContactView, key: str, recheck_since: datetime | None
    ) -> str:
        text = thread_parent_text(contact, now=self._now())
        return await self._post(
            channel=channel,
            thread_ts=None,
            text=text,
            key=key,
            recheck_since=recheck_since,
            blocks=self._blocks(text, contact.conversation_id),
        )

    async def react_for_customer(self, *, channel: str, ts: str, emoji: str) -> bool:
        name = slack_emoji_name(emoji)
        if name is None or name in STAGE_REACTIONS.values():
            return False  # no such Slack emoji, or one that would read as a delivery status
        try:
            await self._call(
                "reactions.add",
                self._client.reactions_add(channel=channel, timestamp=ts, name=name),
            )
        except ChatError as error:
            if error.error in ALREADY_DONE:
                return True
            if error.error == "invalid_name":  # Slack does not know it by that name
                return False
            raise
        return True

    async def unreact_for_customer(self, *, channel: str, ts: str, emoji: str) -> None:
        name = slack_emoji_name(emoji)
        if name is None or name in STAGE_REACTIONS.values():
            return  # it was shown as a line, not a reaction
        try:
            await self._call(
                "reactions.remove",
                self._client.reactions_remove(channel=channel, timestamp=ts, name=name),
            )
        except ChatError as error:
            if error.error not in ALREADY_DONE:
                raise

    async def update_customer_message(
        self, *, channel: str, ts: str, message: CustomerMessageView
    ) -> None:
        await self._call(
            "chat.update",
            self._client.chat_update(channel=channel, ts=ts, text=customer_message_text(message)),
        )

    async def mark_customer_message_deleted(self, *, channel: str, ts: str) -> None:
        await self._call(
            "chat.update", self._client.chat_update(channel=channel, ts=ts, text=DELETED_TEXT)
        )

    async def reserve_file(self, *, filename: str, size: int) -> FileSlot:
        data = await self._call(
            "files.getUploadURLExternal",
            self._client.files_getUploadURLExternal(filename=filename, length=size),
        )
        return FileSlot(file_id=str(data["file_id"]), upload_url=str(data["upload_url"]))

    async def upload_file(self, *, slot: FileSlot, path: Path) -> None:
        # Streamed from disk: a 50 MB video never sits in memory whole.
        timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                with path.open("rb") as body:
                    async with session.post(slot.upload_url, data=body) as response:
                        if response.status >= 400:
                            raise ChatError(
                                f"file upload: HTTP {response.status}",
                                kind=classify(f"http_{response.status}", response.status),
                                error=f"upload_http_{response.status}",
                            )
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ChatError(
                f"file upload: {type(error).__name__}",
                kind=FailureKind.TRANSIENT,
                error="connection",
            ) from None

    async def download_file(self, *, url: str, dest: Path, max_bytes: int) -> int:
        # Streamed to disk, with the bot token: and the token goes only to Slack's own hosts.
        if not self._slack_host(url):
            raise ChatError(
                "file download: not a Slack URL", kind=FailureKind.PERMANENT, error="foreign_url"
            )
        timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)
        headers = {"Authorization": f"Bearer {self._client.token}"}
        size = 0
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as response,
            ):
                if response.status >= 400:
                    raise ChatError(
                        f"file download: HTTP {response.status}",
                        kind=classify(f"http_{response.status}", response.status),
                        error=f"download_http_{response.status}",
                    )
                with dest.open("wb") as out:
                    async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise ChatError(
                                f"file download: larger than {max_bytes} bytes",
                                kind=FailureKind.PERMANENT,
                                error="file_too_large",
                            )
                        out.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ChatError(
                f"file download: {type(error).__name__}",
                kind=FailureKind.TRANSIENT,
                error="connection",
            ) from None
        return size

    def _slack_host(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        if host == urlsplit(self._client.base_url).hostname:
            return True
        return any(host == d or host.endswith("." + d) for d in SLACK_FILE_DOMAINS)

    async def share_file(self, *, slot: FileSlot, channel: str, thread_ts: str, title: str) -> None:
        await self._call(
            "files.completeUploadExternal",
            self._client.files_completeUploadExternal(
                files=[{"id": slot.file_id, "title": title}],
                channel_id=channel,
                thread_ts=thread_ts,
            ),
            channel=channel,
        )

    async def file_shared(self, *, file_id: str, channel: str) -> bool:
        try:
            data = await self._call("files.info", self._client.files_info(file=file_id))
        except ChatError as error:
            if error.error == "file_not_found":  # reserved, never uploaded
                return False
            raise
        shares = (data.get("file") or {}).get("shares") or {}
        return any(channel in (shares.get(kind) or {}) for kind in ("public", "private"))

    async def show_window(self, *, channel: str, thread_ts: str, contact: ContactView) -> None:
        text = thread_parent_text(contact, now=self._now())
        await self._call(
            "chat.update",
            self._client.chat_update(
                channel=channel,
                ts=thread_ts,
                text=text,
                blocks=self._blocks(text, contact.conversation_id),
            ),
        )

    async def post_customer_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: CustomerMessageView,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        return await self._post(
            channel=channel,
            thread_ts=thread_ts,
            text=customer_message_text(message),
            key=key,
            recheck_since=recheck_since,
        )

    async def post_agent_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: AgentMessageView,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        return await self._post(
            channel=channel,
            thread_ts=thread_ts,
            text=agent_message_text(message),
            key=key,
            recheck_since=recheck_since,
        )

    async def post_notice(
        self,
        *,
        channel: str,
        thread_ts: str,
        notice: Notice,
        conversation_id: int,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        text = notice_text(notice, now=self._now(), templates_here=self._template_button)
        actions = notice_actions(
            notice, conversation_id=conversation_id, templates_here=self._template_button
        )
        section = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        return await self._post(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            key=key,
            recheck_since=recheck_since,
            blocks=[section, actions] if actions is not None else None,
        )

    async def post_operator_notice(
        self,
        *,
        channel: str,
        notice: OperatorNotice,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        return await self._post(
            channel=channel,
            thread_ts=None,
            text=operator_notice_text(notice),
            key=key,
            recheck_since=recheck_since,
        )

    async def show_delivery(
        self,
        *,
        channel: str,
        ts: str,
        stages: Sequence[MessageStatus],
        withdrawn: Sequence[MessageStatus] = (),
    ) -> None:
        for stage in withdrawn:
            name = STAGE_REACTIONS.get(stage)
            if name is None:
                continue
            try:
                await self._call(
                    "reactions.remove",
                    self._client.reactions_remove(channel=channel, timestamp=ts, name=name),
                )
            except ChatError as error:
                if error.error not in ALREADY_DONE:  # gone already is what we wanted
                    raise
        for stage in stages:
            name = STAGE_REACTIONS.get(stage)
            if name is None:
                continue
            try:
                await self._call(
                    "reactions.add",
                    self._client.reactions_add(channel=channel, timestamp=ts, name=name),
                )
            except ChatError as error:
                # Reactions are idempotent in effect: one already there is what we wanted.
                if error.error not in ALREADY_DONE:
                    raise
