"""The Slack side of ``bridge.ports.ChatSurface``: posts, thread replies and reactions.

Every Slack failure becomes a ``bridge.errors.ChatError`` here, and only here:
a ``429`` carries its ``Retry-After``, network trouble is transient. Posts carry
message metadata with a key, so after a crash a post can be found instead of
being made twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bridge.domain import MessageStatus
from bridge.errors import ChatError
from bridge.ports import ContactView, CustomerMessageView, Notice
from slack_app.pacing import ChannelPacer
from slack_app.views import (
    STAGE_REACTIONS,
    customer_message_text,
    notice_text,
    post_metadata,
    thread_parent_text,
)

__all__ = ["SlackSurface"]

log = logging.getLogger(__name__)

# Errors Slack answers with ok=false that a later retry may cure.
_TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})


class SlackSurface:
    """Shows the bridge's conversations in Slack through the Web API."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        pacer: ChannelPacer,
        advice: Callable[[int | None], str],
        now: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._pacer = pacer
        self._advice = advice
        self._now = now

    async def _call(self, method: str, call: Awaitable[AsyncSlackResponse]) -> dict[str, Any]:
        try:
            response = await call
        except SlackApiError as error:
            status = error.response.status_code
            code = str(error.response.get("error", "unknown_error"))
            if status == 429:
                retry_after = float(error.response.headers.get("Retry-After", "1"))
                raise ChatError(
                    f"{method}: rate limited", transient=True, retry_after=retry_after
                ) from None
            raise ChatError(
                f"{method}: {code} (HTTP {status})", transient=status >= 500 or code in _TRANSIENT
            ) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ChatError(f"{method}: {type(error).__name__}", transient=True) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _find(self, channel: str, thread_ts: str | None, key: str) -> str | None:
        """The ts of an earlier post carrying ``key``, if a crash hid its success from us."""
        if thread_ts is None:
            data = await self._call(
                "conversations.history",
                self._client.conversations_history(
                    channel=channel, limit=200, include_all_metadata=True
                ),
            )
        else:
            data = await self._call(
                "conversations.replies",
                self._client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=200, include_all_metadata=True
                ),
            )
        for message in data.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return str(message["ts"])
        return None

    async def _post(
        self, *, channel: str, thread_ts: str | None, text: str, key: str, recheck: bool
    ) -> str:
        if recheck and (found := await self._find(channel, thread_ts, key)) is not None:
            log.info("slack post found after retry", extra={"key": key, "slack_ts": found})
            return found
        await self._pacer.acquire(channel)
        data = await self._call(
            "chat.postMessage",
            self._client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=text,
                metadata=post_metadata(key),
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        return str(data["ts"])

    async def open_thread(
        self, *, channel: str, contact: ContactView, key: str, recheck: bool
    ) -> str:
        return await self._post(
            channel=channel,
            thread_ts=None,
            text=thread_parent_text(contact),
            key=key,
            recheck=recheck,
        )

    async def post_customer_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: CustomerMessageView,
        key: str,
        recheck: bool,
    ) -> str:
        return await self._post(
            channel=channel,
            thread_ts=thread_ts,
            text=customer_message_text(message),
            key=key,
            recheck=recheck,
        )

    async def post_notice(
        self, *, channel: str, thread_ts: str, notice: Notice, key: str, recheck: bool
    ) -> str:
        text = notice_text(notice, now=self._now(), advice=self._advice)
        return await self._post(
            channel=channel, thread_ts=thread_ts, text=text, key=key, recheck=recheck
        )

    async def show_delivery(
        self, *, channel: str, ts: str, stages: Sequence[MessageStatus]
    ) -> None:
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
                if "already_reacted" not in str(error):
                    raise
