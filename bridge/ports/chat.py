"""The chat surface (Slack), as the core needs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bridge.domain import MessageStatus, Notice

__all__ = ["AgentMessageView", "ChatSurface", "ContactView", "CustomerMessageView"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactView:
    """Who a conversation is with, and its window, as the thread's parent shows them."""

    contact_id: str
    name: str | None
    business_number: str
    window_expires_at: datetime | None = None
    #: The conversation, for the parent's buttons (a click carries all it needs).
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessageView:
    message_type: str
    text: str | None
    content: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessageView:
    """A message an agent sent from outside the thread (a template), as the thread shows it."""

    author: str | None  # the agent's Slack user id
    template: str | None
    language: str | None
    text: str


class ChatSurface(Protocol):
    """Slack, as the core needs it. Failures raise ``bridge.errors.ChatError``.

    Every post carries ``key``, unique across installations. With ``recheck_since`` set (a
    retry), the surface first looks for a post with that key made since then, so that a
    crash between a post and its record never leads to a second post.
    """

    async def open_thread(
        self, *, channel: str, contact: ContactView, key: str, recheck_since: datetime | None
    ) -> str: ...

    async def post_customer_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: CustomerMessageView,
        key: str,
        recheck_since: datetime | None,
    ) -> str: ...

    async def post_agent_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: AgentMessageView,
        key: str,
        recheck_since: datetime | None,
    ) -> str: ...

    async def post_notice(
        self,
        *,
        channel: str,
        thread_ts: str,
        notice: Notice,
        conversation_id: int,
        key: str,
        recheck_since: datetime | None,
    ) -> str: ...

    async def show_window(self, *, channel: str, thread_ts: str, contact: ContactView) -> None:
        """Show the conversation's window, as it stands now, on the thread's parent."""
        ...

    async def show_delivery(
        self, *, channel: str, ts: str, stages: Sequence[MessageStatus]
    ) -> None: ...
