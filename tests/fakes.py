"""Fakes of the core's ports, satisfying the Protocols without inheritance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.domain import MessageStatus
from bridge.errors import ChatError, DeliveryError
from bridge.ports import ContactView, CustomerMessageView, Notice

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@dataclass
class FakeWhatsApp:
    sent: list[dict[str, Any]] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    fail_with: DeliveryError | None = None

    async def send_text(
        self, *, phone_number_id: str, to: str, text: str, reply_to: str | None = None
    ) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append({"phone_number_id": phone_number_id, "to": to, "text": text})
        return f"wamid.OUT{len(self.sent)}"

    async def send_template(
        self,
        *,
        phone_number_id: str,
        to: str,
        name: str,
        language: str,
        components: Sequence[dict[str, Any]] = (),
    ) -> str:
        self.sent.append({"to": to, "template": name})
        return f"wamid.OUT{len(self.sent)}"

    async def mark_read(self, *, phone_number_id: str, wamid: str) -> None:
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
    fail_next: list[ChatError] = field(default_factory=list)
    rechecks: int = 0
    _ts: int = 0

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _post(self, channel: str, thread_ts: str | None, text: str, key: str, recheck: bool) -> str:
        if recheck:
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
        self, *, channel: str, contact: ContactView, key: str, recheck: bool
    ) -> str:
        return self._post(
            channel, None, f"parent:{contact.name}:{contact.contact_id}", key, recheck
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
        return self._post(channel, thread_ts, message.text or message.message_type, key, recheck)

    async def post_notice(
        self, *, channel: str, thread_ts: str, notice: Notice, key: str, recheck: bool
    ) -> str:
        text = f"notice:{notice.kind}:{notice.error_code}"
        return self._post(channel, thread_ts, text, key, recheck)

    async def show_delivery(
        self, *, channel: str, ts: str, stages: Sequence[MessageStatus]
    ) -> None:
        self._maybe_fail()
        shown = self.reactions.setdefault(ts, [])
        for stage in stages:
            if stage.value not in shown:
                shown.append(stage.value)

    def thread(self, thread_ts: str) -> list[str]:
        return [p.text for p in self.posts if p.thread_ts == thread_ts]

    def parents(self) -> list[Post]:
        return [p for p in self.posts if p.thread_ts is None]
