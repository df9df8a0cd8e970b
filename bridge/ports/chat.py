"""The chat surface (Slack), as the core needs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bridge.domain import MessageStatus, Notice, OperatorNotice

__all__ = ["AgentMessageView", "ChatSurface", "ContactView", "CustomerMessageView", "FileSlot"]


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
    #: What the message replies to, as the thread showed it (None: not a reply).
    quoted: str | None = None
    edited: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessageView:
    """A message sent from outside the thread (an agent's template, or a message an
    integration sent through the REST API), as the thread shows it."""

    author: str | None  # the agent's Slack user id
    template: str | None
    language: str | None
    text: str
    #: Sent through the REST API (by an integration, not an agent in Slack).
    via_api: bool = False
    message_type: str = "text"
    #: The message's content as stored (media link or id, caption, coordinates...).
    content: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSlot:
    """A file reserved on the chat surface, to be uploaded and then shared."""

    file_id: str
    upload_url: str


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

    async def post_operator_notice(
        self,
        *,
        channel: str,
        notice: OperatorNotice,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        """Tell the operators about their account or a number, in a message of its own (not
        in any thread)."""
        ...

    async def react_for_customer(self, *, channel: str, ts: str, emoji: str) -> bool:
        """Show a customer's reaction on a post; False when it cannot be shown as a reaction
        (no such Slack emoji, or one that would look like a delivery status)."""
        ...

    async def unreact_for_customer(self, *, channel: str, ts: str, emoji: str) -> None: ...

    async def update_customer_message(
        self, *, channel: str, ts: str, message: CustomerMessageView
    ) -> None:
        """Show a customer's edit in their message's post, marked edited."""
        ...

    async def mark_customer_message_deleted(self, *, channel: str, ts: str) -> None: ...

    async def reserve_file(self, *, filename: str, size: int) -> FileSlot:
        """Reserve a file of ``size`` bytes (its id is known before any upload)."""
        ...

    async def upload_file(self, *, slot: FileSlot, path: Path) -> None:
        """Upload the bytes of ``path``, streaming, into a reserved file."""
        ...

    async def share_file(self, *, slot: FileSlot, channel: str, thread_ts: str, title: str) -> None:
        """Show an uploaded file in a thread."""
        ...

    async def file_shared(self, *, file_id: str, channel: str) -> bool:
        """Whether a file is shared in ``channel`` already (a crash may hide that)."""
        ...

    async def download_file(self, *, url: str, dest: Path, max_bytes: int) -> int:
        """Download a file an agent shared (its private URL) to ``dest``, streaming; returns
        its size. A ``ChatError`` if it is gone, unreadable, or larger than ``max_bytes``."""
        ...

    async def show_window(self, *, channel: str, thread_ts: str, contact: ContactView) -> None:
        """Show the conversation's window, as it stands now, on the thread's parent."""
        ...

    async def show_delivery(
        self,
        *,
        channel: str,
        ts: str,
        stages: Sequence[MessageStatus],
        withdrawn: Sequence[MessageStatus] = (),
    ) -> None:
        """Show the stages an agent's message reached on its post; ``withdrawn`` ones shown
        before no longer hold (a failure an agent's new send has overcome)."""
        ...
