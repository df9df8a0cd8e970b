"""Fakes of the core's ports, satisfying the Protocols without inheritance."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.domain import FailureKind, MessageStatus, MessageTemplate, Notice, OperatorNotice
from bridge.errors import ChatError, DeliveryError
from bridge.ports import AgentMessageView, ContactView, CustomerMessageView, FileSlot, MediaFile
from slack_app.errors import classify as classify_slack
from whatsapp.errors import MetaAPIError, classify

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


def meta_error(code: int, title: str = "Meta says no", *, http_status: int = 400) -> MetaAPIError:
    """The error the real client raises for Meta's ``code``, classified by the real table."""
    return MetaAPIError(
        code=code, title=title, kind=classify(code, http_status), http_status=http_status
    )


def slack_error(
    error: str, *, http_status: int = 200, retry_after: float | None = None
) -> ChatError:
    """The error the real surface raises for Slack's ``error``, classified by the real table."""
    return ChatError(
        f"chat.postMessage: {error}",
        kind=classify_slack(error, http_status),
        error=error,
        retry_after=retry_after,
    )


@dataclass
class FakeWhatsApp:
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: The business number each template left from, in order.
    template_senders: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    #: Raised by every send until cleared.
    fail_with: DeliveryError | None = None
    #: Raised by the next sends, one each.
    fail_next: list[DeliveryError] = field(default_factory=list)
    read_fails_with: DeliveryError | None = None
    #: When set, a send waits for it (a call in flight while its lease runs out).
    hold: asyncio.Event | None = None
    #: Set as soon as a send begins.
    sending: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0
    account_templates: list[MessageTemplate] = field(default_factory=list)
    #: Media the customer sent: id -> (bytes, MIME type).
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_fails_with: DeliveryError | None = None
    #: Files agents sent: media id -> (bytes, MIME type, file name).
    uploads: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    upload_fails_with: DeliveryError | None = None

    async def send_text(
        self, *, phone_number_id: str, to: str, text: str, reply_to: str | None = None
    ) -> str:
        return await self.send_message(
            phone_number_id=phone_number_id,
            to=to,
            message_type="text",
            content={"text": text},
            reply_to=reply_to,
        )

    async def send_message(
        self,
        *,
        phone_number_id: str,
        to: str,
        message_type: str,
        content: Mapping[str, Any],
        reply_to: str | None = None,
    ) -> str:
        self.calls += 1
        self.sending.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.fail_with is not None:
            raise self.fail_with
        sent: dict[str, Any] = {"phone_number_id": phone_number_id, "to": to}
        if message_type == "text" and set(content) == {"text"}:
            sent["text"] = content["text"]
        else:
            sent.update(type=message_type, **content)
        if reply_to is not None:
            sent["reply_to"] = reply_to
        self.sent.append(sent)
        return f"wamid.OUT{len(self.sent)}"

    async def upload_media(
        self, *, phone_number_id: str, path: Path, mime_type: str, filename: str
    ) -> str:
        if self.upload_fails_with is not None:
            raise self.upload_fails_with
        media_id = f"UP{len(self.uploads) + 1}"
        self.uploads[media_id] = (await asyncio.to_thread(path.read_bytes), mime_type, filename)
        return media_id

    async def send_template(
        self,
        *,
        phone_number_id: str,
        to: str,
        template: MessageTemplate,
        values: Mapping[str, str],
    ) -> str:
        self.calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append({"to": to, "template": template.name, "values": dict(values)})
        self.template_senders.append(phone_number_id)
        return f"wamid.OUT{len(self.sent)}"

    async def templates(
        self, waba_id: str, *, phone_number_id: str | None = None
    ) -> list[MessageTemplate]:
        return list(self.account_templates)

    async def display_number(self, phone_number_id: str) -> str:
        return "15550001111"

    async def fetch_media(
        self, media_id: str, dest: Path, *, max_bytes: int, phone_number_id: str | None = None
    ) -> MediaFile:
        if self.media_fails_with is not None:
            raise self.media_fails_with
        content, mime = self.media[media_id]
        if len(content) > max_bytes:
            raise DeliveryError(
                code=None, title="too large", kind=FailureKind.PERMANENT, reason="media_too_large"
            )
        await asyncio.to_thread(dest.write_bytes, content)
        return MediaFile(mime_type=mime, size=len(content))

    async def mark_read(self, *, phone_number_id: str, wamid: str) -> None:
        if self.read_fails_with is not None:
            raise self.read_fails_with
        self.read.append(wamid)


@dataclass
class Post:
    channel: str
    ts: str
    thread_ts: str | None
    text: str
    key: str


@dataclass
class FakeChat:
    posts: list[Post] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    #: Raised by the next posts or displays, one each.
    fail_next: list[ChatError] = field(default_factory=list)
    #: Raised by every delivery display until cleared (a cosmetic call failing for good).
    reactions_fail_with: ChatError | None = None
    #: Raised by every post of a customer message until cleared.
    customer_posts_fail_with: ChatError | None = None
    #: When set, a customer message's post waits for it (Slack slow, or pacing).
    hold: asyncio.Event | None = None
    rechecks: int = 0
    #: Every window shown on a parent: (thread, window end).
    windows: list[tuple[str, datetime | None]] = field(default_factory=list)
    #: Customers' reactions shown on posts: ts -> emoji.
    customer_reactions: dict[str, list[str]] = field(default_factory=dict)
    #: Files by id: name, content, the thread it was shared in.
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Files agents shared in threads, by private URL.
    agent_files: dict[str, bytes] = field(default_factory=dict)
    #: Every notice posted in a thread, as the core sent it.
    notices: list[Notice] = field(default_factory=list)
    #: Operator notices: messages of their own in a channel (kept apart from the threads).
    operator_posts: list[Post] = field(default_factory=list)
    operator_notices: list[OperatorNotice] = field(default_factory=list)
    #: Every delivery display made: (the post's ts, the stages added).
    deliveries: list[tuple[str, list[str]]] = field(default_factory=list)
    _ts: int = 0

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _post(
        self,
        channel: str,
        thread_ts: str | None,
        text: str,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        if recheck_since is not None:
            self.rechecks += 1
            for post in self.posts:
                if post.key == key:
                    return post.ts
        self._maybe_fail()
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        self.posts.append(Post(channel, ts, thread_ts, text, key))
        return ts

    async def open_thread(
        self, *, channel: str, contact: ContactView, key: str, recheck_since: datetime | None
    ) -> str:
        return self._post(
            channel, None, f"parent:{contact.name}:{contact.contact_id}", key, recheck_since
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
        if self.hold is not None:
            await self.hold.wait()
        if self.customer_posts_fail_with is not None:
            raise self.customer_posts_fail_with
        text = message.text or message.message_type
        if message.quoted is not None:
            text = f"> {message.quoted}\n{text}"
        return self._post(channel, thread_ts, text, key, recheck_since)

    async def post_agent_message(
        self,
        *,
        channel: str,
        thread_ts: str,
        message: AgentMessageView,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        text = (
            f"api:{message.message_type}:{message.text}"
            if message.via_api
            else f"agent:{message.template}:{message.text}"
        )
        return self._post(channel, thread_ts, text, key, recheck_since)

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
        text = f"notice:{notice.kind.value}:{notice.error_code}"
        ts = self._post(channel, thread_ts, text, key, recheck_since)
        self.notices.append(notice)
        return ts

    async def post_operator_notice(
        self,
        *,
        channel: str,
        notice: OperatorNotice,
        key: str,
        recheck_since: datetime | None,
    ) -> str:
        if recheck_since is not None:
            self.rechecks += 1
            for post in self.operator_posts:
                if post.key == key:
                    return post.ts
        self._maybe_fail()
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        self.operator_posts.append(Post(channel, ts, None, f"operator:{notice.kind.value}", key))
        self.operator_notices.append(notice)
        return ts

    async def react_for_customer(self, *, channel: str, ts: str, emoji: str) -> bool:
        if emoji in ("👀", "✔️", "❌", "📬", "🎧"):
            return False
        self.customer_reactions.setdefault(ts, []).append(emoji)
        return True

    async def unreact_for_customer(self, *, channel: str, ts: str, emoji: str) -> None:
        if emoji in self.customer_reactions.get(ts, []):
            self.customer_reactions[ts].remove(emoji)

    async def update_customer_message(
        self, *, channel: str, ts: str, message: CustomerMessageView
    ) -> None:
        post = next(p for p in self.posts if p.ts == ts)
        post.text = f"{message.text}(edited)"

    async def mark_customer_message_deleted(self, *, channel: str, ts: str) -> None:
        post = next(p for p in self.posts if p.ts == ts)
        post.text = "(deleted)"

    async def reserve_file(self, *, filename: str, size: int) -> FileSlot:
        self._ts += 1
        slot = FileSlot(file_id=f"F{self._ts:06d}", upload_url=f"upload:{filename}")
        self.files[slot.file_id] = {"name": filename, "content": None, "shared": None}
        return slot

    async def upload_file(self, *, slot: FileSlot, path: Path) -> None:
        self._maybe_fail()
        self.files[slot.file_id]["content"] = await asyncio.to_thread(path.read_bytes)

    async def share_file(self, *, slot: FileSlot, channel: str, thread_ts: str, title: str) -> None:
        self._maybe_fail()
        self.files[slot.file_id]["shared"] = thread_ts
        self.posts.append(Post(channel, f"file:{slot.file_id}", thread_ts, f"file:{title}", ""))

    async def file_shared(self, *, file_id: str, channel: str) -> bool:
        return self.files.get(file_id, {}).get("shared") is not None

    async def download_file(self, *, url: str, dest: Path, max_bytes: int) -> int:
        self._maybe_fail()
        content = self.agent_files[url]
        if len(content) > max_bytes:
            raise ChatError(
                "file download: too large", kind=FailureKind.PERMANENT, error="too_large"
            )
        await asyncio.to_thread(dest.write_bytes, content)
        return len(content)

    def shared_files(self, thread_ts: str) -> list[dict[str, Any]]:
        return [f for f in self.files.values() if f["shared"] == thread_ts]

    async def show_window(self, *, channel: str, thread_ts: str, contact: ContactView) -> None:
        self._maybe_fail()
        self.windows.append((thread_ts, contact.window_expires_at))

    async def show_delivery(
        self,
        *,
        channel: str,
        ts: str,
        stages: Sequence[MessageStatus],
        withdrawn: Sequence[MessageStatus] = (),
    ) -> None:
        if self.reactions_fail_with is not None:
            raise self.reactions_fail_with
        self._maybe_fail()
        self.deliveries.append((ts, [stage.value for stage in stages]))
        shown = self.reactions.setdefault(ts, [])
        for stage in withdrawn:
            if stage.value in shown:
                shown.remove(stage.value)
        for stage in stages:
            if stage.value not in shown:
                shown.append(stage.value)

    def thread(self, thread_ts: str) -> list[str]:
        return [p.text for p in self.posts if p.thread_ts == thread_ts]

    def parents(self) -> list[Post]:
        return [p for p in self.posts if p.thread_ts is None]


def transient_chat_error(message: str = "slack is down") -> ChatError:
    return ChatError(message, kind=FailureKind.TRANSIENT, error="internal_error")
