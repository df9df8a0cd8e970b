"""The simulated Slack Web API methods, working on a `Workspace` and answering Slack's JSON."""

from __future__ import annotations

import base64
import copy
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.slack_state import SimFile, SimMessage, SlackError, Workspace

__all__ = ["MAX_TEXT", "WebApi"]

MAX_TEXT = 40_000
MAX_BLOCKS = 50

Args = dict[str, Any]
Handler = Callable[[Args], dict[str, Any]]


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _opt_str(args: Mapping[str, Any], key: str) -> str | None:
    value = args.get(key)
    return None if value in (None, "") else str(value)


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("offset:"))
    except ValueError as exc:
        raise SlackError("invalid_cursor") from exc


def _page(items: list[dict[str, Any]], args: Mapping[str, Any], default: int) -> dict[str, Any]:
    """Cursor paging like Slack: `has_more` and `response_metadata.next_cursor`."""
    try:
        limit = int(args.get("limit") or default)
    except ValueError as exc:
        raise SlackError("invalid_limit") from exc
    limit = max(1, min(limit, 1000))
    start = _offset(_opt_str(args, "cursor"))
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return {
        "messages": chunk,
        "has_more": more,
        "response_metadata": {"next_cursor": _cursor(start + limit) if more else ""},
    }


def _in_range(ts: str, args: Mapping[str, Any]) -> bool:
    inclusive = _flag(args.get("inclusive"))
    value = float(ts)
    oldest, latest = _opt_str(args, "oldest"), _opt_str(args, "latest")
    if oldest is not None and (value < float(oldest) or (value == float(oldest) and not inclusive)):
        return False
    return latest is None or value < float(latest) or (value == float(latest) and inclusive)


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    if value is None or value == "":
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_BLOCKS
        or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value)
    ):
        raise SlackError("invalid_blocks")
    return copy.deepcopy(value)


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("event_type"), str)
        or not isinstance(value.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return copy.deepcopy(value)


def _attachments(value: Any) -> list[dict[str, Any]] | None:
    if value is None or value == "":
        return None
    if not isinstance(value, list):
        raise SlackError("invalid_attachments")
    return copy.deepcopy(value)


class WebApi:
    """Dispatches Web API method names to handlers; callers hold the simulator's lock."""

    def __init__(self, workspace: Workspace, root_url: Callable[[], str]) -> None:
        self.ws = workspace
        self._root_url = root_url
        # Messages the bot posted during the last call, for the simulator to echo as events.
        self.posted: list[SimMessage] = []
        self.handlers: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "reactions.add": self.reactions_add,
            "reactions.remove": self.reactions_remove,
            "reactions.get": self.reactions_get,
            "conversations.replies": self.conversations_replies,
            "conversations.history": self.conversations_history,
            "conversations.info": self.conversations_info,
            "conversations.join": self.conversations_join,
            "conversations.members": self.conversations_members,
            "users.info": self.users_info,
            "views.open": self.views_open,
            "views.push": self.views_open,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete_upload,
            "files.info": self.files_info,
        }

    def call(self, method: str, args: Args) -> dict[str, Any]:
        """Run one method; raise SlackError for an `ok: false` answer."""
        handler = self.handlers.get(method)
        if handler is None:
            raise SlackError("unknown_method")
        return handler(args)

    # -- auth, users, conversations --------------------------------------------------------

    def auth_test(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        return {
            "ok": True,
            "url": "https://sandbox.slack.com/",
            "team": "Sandbox",
            "user": "wabridge",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def users_info(self, args: Args) -> dict[str, Any]:
        user_id = str(args.get("user") or "")
        if not user_id.startswith(("U", "W")):
            raise SlackError("user_not_found")
        real_name, display_name = self.ws.user_names(user_id)
        is_bot = user_id == self.ws.bot_user_id
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "team_id": self.ws.team_id,
                "name": display_name,
                "deleted": False,
                "real_name": real_name,
                "tz": "Europe/Amsterdam",
                "is_bot": is_bot,
                "is_admin": False,
                "profile": {
                    "real_name": real_name,
                    "display_name": display_name,
                    "real_name_normalized": real_name,
                    "display_name_normalized": display_name,
                    "image_72": f"https://sandbox.slack.com/avatars/{user_id}_72.png",
                    "bot_id": self.ws.bot_id if is_bot else None,
                },
            },
        }

    def _channel_object(self, channel_id: str) -> dict[str, Any]:
        name = self.ws.channels[channel_id]
        return {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            "created": 1_700_000_000,
            "creator": "UADMIN",
            "num_members": 2,
        }

    def conversations_info(self, args: Args) -> dict[str, Any]:
        channel = self.ws.resolve_channel(args.get("channel"))
        return {"ok": True, "channel": self._channel_object(channel)}

    def conversations_join(self, args: Args) -> dict[str, Any]:
        channel = self.ws.resolve_channel(args.get("channel"))
        return {"ok": True, "channel": self._channel_object(channel)}

    def conversations_members(self, args: Args) -> dict[str, Any]:
        self.ws.resolve_channel(args.get("channel"))
        return {
            "ok": True,
            "members": [self.ws.bot_user_id],
            "response_metadata": {"next_cursor": ""},
        }

    def conversations_replies(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = ws.resolve_channel(args.get("channel"))
        ts = _opt_str(args, "ts")
        parent = ws.find(channel, ts) if ts else None
        if parent is None or ts is None:
            raise SlackError("thread_not_found")
        with_metadata = _flag(args.get("include_all_metadata"))
        if parent.is_reply:
            # Asking for a reply's ts returns just that reply.
            thread = [parent]
        else:
            replies = [m for m in ws.replies(channel, ts) if not m.deleted]
            thread = [parent] + [m for m in replies if _in_range(m.ts, args)]
        items = [ws.to_api(m, include_metadata=with_metadata) for m in thread]
        return {"ok": True} | _page(items, args, default=1000)

    def conversations_history(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = ws.resolve_channel(args.get("channel"))
        with_metadata = _flag(args.get("include_all_metadata"))
        top = [
            m
            for m in reversed(ws.messages.get(channel, []))
            if not m.deleted and not m.is_reply and _in_range(m.ts, args)
        ]
        items = [ws.to_api(m, include_metadata=with_metadata) for m in top]
        return {"ok": True} | _page(items, args, default=100)

    # -- chat ------------------------------------------------------------------------------

    def chat_post_message(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = ws.resolve_channel(args.get("channel"))
        text = str(args.get("text") or "")
        blocks = _blocks(args.get("blocks"))
        attachments = _attachments(args.get("attachments"))
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        message = ws.add_message(
            SimMessage(
                channel=channel,
                ts=ws.next_ts(),
                thread_ts=_opt_str(args, "thread_ts"),
                text=text,
                blocks=blocks,
                user=ws.bot_user_id,
                bot_id=ws.bot_id,
                metadata=_metadata(args.get("metadata")),
                files=None,
                attachments=attachments,
            )
        )
        self.posted.append(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": ws.to_api(message),
        }

    def _own_message(self, args: Args, not_yours: str) -> SimMessage:
        channel = self.ws.resolve_channel(args.get("channel"))
        message = self.ws.get(channel, args.get("ts"))
        if message.user != self.ws.bot_user_id:
            raise SlackError(not_yours)
        return message

    def chat_update(self, args: Args) -> dict[str, Any]:
        message = self._own_message(args, "cant_update_message")
        if "text" in args:
            text = str(args.get("text") or "")
            if len(text) > MAX_TEXT:
                raise SlackError("msg_too_long")
            message.text = text
        if "blocks" in args:
            message.blocks = _blocks(args.get("blocks"))
        if "attachments" in args:
            message.attachments = _attachments(args.get("attachments"))
        if "metadata" in args:
            message.metadata = _metadata(args.get("metadata"))
        message.edited = True
        message.edited_ts = self.ws.next_ts()
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": self.ws.to_api(message),
        }

    def chat_delete(self, args: Args) -> dict[str, Any]:
        message = self._own_message(args, "cant_delete_message")
        message.deleted = True
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def chat_post_ephemeral(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = ws.resolve_channel(args.get("channel"))
        user = str(args.get("user") or "")
        if not user.startswith(("U", "W")):
            raise SlackError("user_not_in_channel")
        text = str(args.get("text") or "")
        blocks = _blocks(args.get("blocks"))
        attachments = _attachments(args.get("attachments"))
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        ts = ws.next_ts()
        ws.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": text,
                "blocks": blocks,
                "attachments": attachments,
                "thread_ts": _opt_str(args, "thread_ts"),
                "message_ts": ts,
            }
        )
        return {"ok": True, "message_ts": ts}

    def chat_get_permalink(self, args: Args) -> dict[str, Any]:
        channel = self.ws.resolve_channel(args.get("channel"))
        message = self.ws.get(channel, args.get("message_ts"))
        link = f"https://sandbox.slack.com/archives/{channel}/p{message.ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    # -- reactions -------------------------------------------------------------------------

    def _reaction_target(self, args: Args) -> tuple[SimMessage, str]:
        channel = self.ws.resolve_channel(args.get("channel"))
        message = self.ws.get(channel, args.get("timestamp"))
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        return message, name

    def reactions_add(self, args: Args) -> dict[str, Any]:
        message, name = self._reaction_target(args)
        users = message.reactions.setdefault(name, [])
        if self.ws.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(self.ws.bot_user_id)
        return {"ok": True}

    def reactions_remove(self, args: Args) -> dict[str, Any]:
        message, name = self._reaction_target(args)
        users = message.reactions.get(name, [])
        if self.ws.bot_user_id not in users:
            raise SlackError("no_reaction")
        users.remove(self.ws.bot_user_id)
        if not users:
            del message.reactions[name]
        return {"ok": True}

    def reactions_get(self, args: Args) -> dict[str, Any]:
        channel = self.ws.resolve_channel(args.get("channel"))
        message = self.ws.get(channel, args.get("timestamp"))
        return {
            "ok": True,
            "type": "message",
            "channel": channel,
            "message": self.ws.to_api(message),
        }

    # -- views -----------------------------------------------------------------------------

    def _store_view(
        self, method: str, view: Any, view_id: str | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            raise SlackError("invalid_arguments")
        view_id = view_id or self.ws.next_id("V")
        stored = copy.deepcopy(view) | {
            "id": view_id,
            "team_id": self.ws.team_id,
            "app_id": "ASIMAPP",
            "bot_id": self.ws.bot_id,
            "hash": f"{int(float(self.ws.next_ts()))}.{secrets.token_hex(4)}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "state": {"values": {}},
        }
        self.ws.views[view_id] = stored
        self.ws.view_log.append({"method": method, "view": copy.deepcopy(stored)} | extra)
        return {"ok": True, "view": stored}

    def views_open(self, args: Args) -> dict[str, Any]:
        trigger_id = _opt_str(args, "trigger_id") or _opt_str(args, "interactivity_pointer")
        if trigger_id is None:
            raise SlackError("invalid_arguments")
        return self._store_view("views.open", args.get("view"), None, {"trigger_id": trigger_id})

    def views_update(self, args: Args) -> dict[str, Any]:
        view_id = _opt_str(args, "view_id")
        external_id = _opt_str(args, "external_id")
        if view_id is None and external_id is not None:
            view_id = next(
                (k for k, v in self.ws.views.items() if v.get("external_id") == external_id), None
            )
        if view_id is None or view_id not in self.ws.views:
            raise SlackError("not_found")
        expected_hash = _opt_str(args, "hash")
        if expected_hash is not None and self.ws.views[view_id]["hash"] != expected_hash:
            raise SlackError("hash_conflict")
        return self._store_view("views.update", args.get("view"), view_id, {})

    def views_publish(self, args: Args) -> dict[str, Any]:
        user_id = _opt_str(args, "user_id")
        if user_id is None:
            raise SlackError("invalid_arguments")
        return self._store_view("views.publish", args.get("view"), None, {"user_id": user_id})

    # -- files -----------------------------------------------------------------------------

    def files_get_upload_url(self, args: Args) -> dict[str, Any]:
        filename = _opt_str(args, "filename")
        try:
            length = int(args.get("length") or -1)
        except ValueError as exc:
            raise SlackError("invalid_arguments") from exc
        if filename is None or length < 0:
            raise SlackError("invalid_arguments")
        file_id = self.ws.next_id("F")
        self.ws.files[file_id] = SimFile(
            id=file_id, name=filename, length=length, user=self.ws.bot_user_id
        )
        return {
            "ok": True,
            "upload_url": f"{self._root_url()}/_sim/upload/{file_id}",
            "file_id": file_id,
        }

    def files_complete_upload(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        wanted = args.get("files")
        if not isinstance(wanted, list) or not wanted:
            raise SlackError("invalid_arguments")
        files: list[SimFile] = []
        for item in wanted:
            file = ws.files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if file is None or file.content is None:
                raise SlackError("file_not_found")
            file.title = str(item.get("title") or file.name)
            files.append(file)
        objects = [ws.file_object(f, self._root_url()) for f in files]
        channel_arg = _opt_str(args, "channel_id") or _opt_str(args, "channels")
        if channel_arg is not None:
            channel = ws.resolve_channel(channel_arg.split(",")[0])
            shared = ws.add_message(
                SimMessage(
                    channel=channel,
                    ts=ws.next_ts(),
                    thread_ts=_opt_str(args, "thread_ts"),
                    text=str(args.get("initial_comment") or ""),
                    blocks=None,
                    user=ws.bot_user_id,
                    bot_id=ws.bot_id,
                    metadata=None,
                    files=copy.deepcopy(objects),
                    subtype="file_share",
                )
            )
            self.posted.append(shared)
        return {"ok": True, "files": objects}

    def files_info(self, args: Args) -> dict[str, Any]:
        file = self.ws.files.get(str(args.get("file") or ""))
        if file is None or file.content is None:
            raise SlackError("file_not_found")
        return {"ok": True, "file": self.ws.file_object(file, self._root_url())}
