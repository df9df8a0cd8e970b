"""The state of the simulated Slack workspace: channels, messages, files, views."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SimFile", "SimMessage", "SlackError", "Workspace"]


class SlackError(Exception):
    """A Web API failure answered as HTTP 200 `{"ok": false, "error": error, **fields}`."""

    def __init__(self, error: str, **fields: Any) -> None:
        super().__init__(error)
        self.error = error
        self.fields = fields

    def answer(self) -> dict[str, Any]:
        """The JSON body Slack answers for this failure."""
        return {"ok": False, "error": self.error} | self.fields


@dataclass
class SimMessage:
    """A message in a simulated channel; replies carry the parent's `thread_ts`."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: list[dict[str, Any]] | None
    user: str
    bot_id: str | None
    metadata: dict[str, Any] | None
    files: list[dict[str, Any]] | None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: bool = False
    deleted: bool = False
    attachments: list[dict[str, Any]] | None = None
    subtype: str | None = None
    client_msg_id: str | None = None
    edited_ts: str | None = None

    @property
    def is_reply(self) -> bool:
        """Whether this message is a reply inside a thread (not the parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class SimFile:
    """A file uploaded through `files.getUploadURLExternal` and the upload URL."""

    id: str
    name: str
    length: int
    user: str
    title: str = ""
    content: bytes | None = None
    mimetype: str = "application/octet-stream"
    created: int = field(default_factory=lambda: int(time.time()))
    #: The size Slack reports when it is not that of ``content``: a large file simulated
    #: without its bytes.
    declared_size: int | None = None
    #: Where the file was shared: (channel, message ts, thread ts).
    shares: list[tuple[str, str, str | None]] = field(default_factory=list)


class Workspace:
    """Plain storage with lookups; callers hold the simulator's lock."""

    def __init__(self, *, team_id: str, bot_user_id: str, bot_id: str) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.channels: dict[str, str] = {}
        self.private: set[str] = set()
        # Channels the bot is not a member of (it is in every other one).
        self.absent: set[str] = set()
        self.users: dict[str, tuple[str, str]] = {}
        self.messages: dict[str, list[SimMessage]] = {}
        self.files: dict[str, SimFile] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.view_log: list[dict[str, Any]] = []
        # Open modals: one stack of view ids per modal, bottom (the opened view) first.
        self.stacks: list[list[str]] = []
        # trigger_id -> id of the view whose interaction produced it (for views.push).
        self.trigger_views: dict[str, str] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self._index: dict[tuple[str, str], SimMessage] = {}
        self._last_us = 0
        self._ids = itertools.count(1)

    def clear(self) -> None:
        """Forget messages, files, views and recordings; channels and users stay."""
        for channel in self.messages:
            self.messages[channel] = []
        self.files.clear()
        self.views.clear()
        self.view_log.clear()
        self.stacks.clear()
        self.trigger_views.clear()
        self.ephemerals.clear()
        self.responses.clear()
        self._index.clear()

    def add_channel(self, channel_id: str, name: str, *, private: bool = False) -> None:
        """Create a channel (public unless `private`) the bot is a member of."""
        self.channels[channel_id] = name
        self.messages.setdefault(channel_id, [])
        self.absent.discard(channel_id)
        if private:
            self.private.add(channel_id)
        else:
            self.private.discard(channel_id)

    def is_member(self, channel_id: str) -> bool:
        """Whether the bot is a member of the channel."""
        return channel_id not in self.absent

    def stack_of(self, view_id: str) -> list[str] | None:
        """The open modal stack holding `view_id`, if any."""
        return next((stack for stack in self.stacks if view_id in stack), None)

    def next_id(self, prefix: str) -> str:
        """A unique object id such as `F0000000001`."""
        return f"{prefix}{next(self._ids):010d}"

    def next_ts(self) -> str:
        """A message timestamp like `1732700000.000100`, unique and increasing."""
        now_us = int(time.time() * 1_000_000)
        self._last_us = max(now_us, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def resolve_channel(self, value: Any) -> str:
        """The id of a channel given by id, `name` or `#name`; `channel_not_found` otherwise."""
        if not isinstance(value, str) or not value:
            raise SlackError("channel_not_found")
        if value in self.channels:
            return value
        name = value.removeprefix("#")
        for channel_id, channel_name in self.channels.items():
            if channel_name == name:
                return channel_id
        raise SlackError("channel_not_found")

    def find(self, channel: str, ts: Any) -> SimMessage | None:
        """The live (not deleted) message at `ts`, if any."""
        message = self._index.get((channel, str(ts)))
        return None if message is None or message.deleted else message

    def get(self, channel: str, ts: Any) -> SimMessage:
        """The live message at `ts`, else `message_not_found`."""
        message = self.find(channel, ts)
        if message is None:
            raise SlackError("message_not_found")
        return message

    def add_message(self, message: SimMessage) -> SimMessage:
        """Store a message; a reply to a reply is threaded under the parent, as Slack does."""
        if message.thread_ts is not None:
            parent = self._index.get((message.channel, message.thread_ts))
            if parent is not None and parent.is_reply and parent.thread_ts is not None:
                message.thread_ts = parent.thread_ts
        self.messages.setdefault(message.channel, []).append(message)
        self._index[(message.channel, message.ts)] = message
        return message

    def replies(self, channel: str, thread_ts: str) -> list[SimMessage]:
        """Replies of a thread (parent excluded), in post order, deleted ones included."""
        return [
            m
            for m in self.messages.get(channel, [])
            if m.thread_ts == thread_ts and m.ts != thread_ts
        ]

    def user_names(self, user_id: str) -> tuple[str, str]:
        """(real name, display name) of any user id."""
        if user_id == self.bot_user_id:
            return ("wabridge", "wabridge")
        return self.users.get(user_id, (f"Sim User {user_id}", f"sim-{user_id.lower()}"))

    def file_object(self, file: SimFile, root_url: str) -> dict[str, Any]:
        """A file as the Web API shows it."""
        extension = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else "binary"
        url = f"{root_url}/_sim/files/{file.id}/{file.name}"
        return {
            "id": file.id,
            "created": file.created,
            "timestamp": file.created,
            "name": file.name,
            "title": file.title or file.name,
            "mimetype": file.mimetype,
            "filetype": extension,
            "pretty_type": extension.upper(),
            "user": file.user,
            "size": self._size(file),
            "mode": "hosted",
            "is_external": False,
            "url_private": url,
            "url_private_download": url + "?download=1",
            "permalink": f"https://sandbox.slack.com/files/{file.user}/{file.id}/{file.name}",
            "shares": self._shares(file),
        }

    @staticmethod
    def _size(file: SimFile) -> int:
        if file.declared_size is not None:
            return file.declared_size
        return len(file.content) if file.content is not None else file.length

    def _shares(self, file: SimFile) -> dict[str, Any]:
        """Slack's `shares`: by visibility, then channel, the messages that carry the file."""
        shares: dict[str, Any] = {}
        for channel, ts, thread_ts in file.shares:
            private = channel in self.private
            where = shares.setdefault("private" if private else "public", {})
            entry: dict[str, Any] = {"ts": ts}
            if thread_ts is not None:
                entry["thread_ts"] = thread_ts
            where.setdefault(channel, []).append(entry)
        return shares

    def to_api(self, message: SimMessage, *, include_metadata: bool = True) -> dict[str, Any]:
        """A message as the Web API and Events API show it."""
        data: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "user": message.user,
            "text": message.text,
            "team": self.team_id,
        }
        if message.subtype:
            data["subtype"] = message.subtype
        if message.bot_id:
            data["bot_id"] = message.bot_id
            data["app_id"] = "ASIMAPP"
        if message.client_msg_id:
            data["client_msg_id"] = message.client_msg_id
        if message.blocks is not None:
            data["blocks"] = message.blocks
        if message.attachments is not None:
            data["attachments"] = message.attachments
        if message.files:
            data["files"] = message.files
            data["upload"] = False
        if message.metadata is not None and include_metadata:
            data["metadata"] = message.metadata
        if message.edited:
            data["edited"] = {"user": message.user, "ts": message.edited_ts or message.ts}
        if message.reactions:
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in message.reactions.items()
            ]
        if message.is_reply and message.thread_ts is not None:
            data["thread_ts"] = message.thread_ts
            parent = self._index.get((message.channel, message.thread_ts))
            if parent is not None:
                data["parent_user_id"] = parent.user
        else:
            replies = [r for r in self.replies(message.channel, message.ts) if not r.deleted]
            if replies:
                users = list(dict.fromkeys(r.user for r in replies))
                data.update(
                    thread_ts=message.ts,
                    reply_count=len(replies),
                    reply_users=users,
                    reply_users_count=len(users),
                    latest_reply=replies[-1].ts,
                )
        return data
