"""The simulated Slack Web API methods, working on a `Workspace` and answering Slack's JSON."""

from __future__ import annotations

import base64
import copy
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sandbox.slack_state import SimFile, SimMessage, SlackError, Workspace

__all__ = ["MAX_TEXT", "MAX_VIEW_STACK", "REQUIRED_SCOPES", "WebApi"]

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_VIEW_STACK = 3

_HISTORY = {"public": "channels:history", "private": "groups:history"}
# The bot scope a method needs: one scope, or one per kind of channel it is called on.
# Methods not listed need none here (views.*, chat.getPermalink) or are not checked
# (conversations.info and .members: the default grant has no groups:read).
REQUIRED_SCOPES: dict[str, str | Mapping[str, str]] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "reactions.get": "reactions:read",
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
    "conversations.join": "channels:join",
    "users.info": "users:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
}

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

    def __init__(
        self, workspace: Workspace, root_url: Callable[[], str], scopes: Iterable[str]
    ) -> None:
        self.ws = workspace
        self._root_url = root_url
        # The scopes granted to the bot token.
        self.scopes: tuple[str, ...] = tuple(scopes)
        # Messages the bot posted during the last call, for the simulator to echo as events.
        self.posted: list[SimMessage] = []
        # Reactions the bot added (True) or removed (False) during the last call, likewise.
        self.reacted: list[tuple[bool, SimMessage, str]] = []
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
            "views.push": self.views_push,
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
        needed = self.needed_scope(method, args)
        if needed is not None and not set(needed.split(",")) & set(self.scopes):
            raise SlackError("missing_scope", needed=needed, provided=",".join(self.scopes))
        return handler(args)

    def needed_scope(self, method: str, args: Args) -> str | None:
        """The scope `method` needs with these arguments (`a,b`: any of them), or None."""
        need = REQUIRED_SCOPES.get(method)
        if need is None or isinstance(need, str):
            return need
        try:
            channel = self.ws.resolve_channel(args.get("channel"))
        except SlackError:
            return ",".join(need.values())
        return need["private" if channel in self.ws.private else "public"]

    # -- what the bot can see --------------------------------------------------------------

    def _visible(self, value: Any) -> str:
        """A channel the bot can see: a private channel it is not in does not exist for it."""
        channel = self.ws.resolve_channel(value)
        if channel in self.ws.private and not self.ws.is_member(channel):
            raise SlackError("channel_not_found")
        return channel

    def _joined(self, value: Any) -> str:
        """A channel the bot is a member of, else `not_in_channel`."""
        channel = self._visible(value)
        if not self.ws.is_member(channel):
            raise SlackError("not_in_channel")
        return channel

    def _postable(self, value: Any) -> str:
        """A channel the bot may post in; `chat:write.public` covers public ones it is not in."""
        channel = self._visible(value)
        public_ok = channel not in self.ws.private and "chat:write.public" in self.scopes
        if not self.ws.is_member(channel) and not public_ok:
            raise SlackError("not_in_channel")
        return channel

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
        member = self.ws.is_member(channel_id)
        return {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": channel_id in self.ws.private,
            "is_archived": False,
            "is_member": member,
            "created": 1_700_000_000,
            "creator": "UADMIN",
            "num_members": 2,
        }

    def conversations_info(self, args: Args) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        return {"ok": True, "channel": self._channel_object(channel)}

    def conversations_join(self, args: Args) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        if channel in self.ws.private:
            # A bot cannot join a private channel by itself; someone has to invite it.
            raise SlackError("method_not_supported_for_channel_type")
        self.ws.absent.discard(channel)
        return {"ok": True, "channel": self._channel_object(channel)}

    def conversations_members(self, args: Args) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        members = [self.ws.bot_user_id] if self.ws.is_member(channel) else []
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def conversations_replies(self, args: Args) -> dict[str, Any]:
        ws = self.ws
        channel = self._joined(args.get("channel"))
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
        channel = self._joined(args.get("channel"))
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
        channel = self._postable(args.get("channel"))
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
        channel = self._visible(args.get("channel"))
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
        channel = self._postable(args.get("channel"))
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
        channel = self._visible(args.get("channel"))
        message = self.ws.get(channel, args.get("message_ts"))
        link = f"https://sandbox.slack.com/archives/{channel}/p{message.ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    # -- reactions -------------------------------------------------------------------------

    def _reaction_target(self, args: Args) -> tuple[SimMessage, str]:
        channel = self._visible(args.get("channel"))
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
        self.reacted.append((True, message, name))
        return {"ok": True}

    def reactions_remove(self, args: Args) -> dict[str, Any]:
        message, name = self._reaction_target(args)
        users = message.reactions.get(name, [])
        if self.ws.bot_user_id not in users:
            raise SlackError("no_reaction")
        users.remove(self.ws.bot_user_id)
        if not users:
            del message.reactions[name]
        self.reacted.append((False, message, name))
        return {"ok": True}

    def reactions_get(self, args: Args) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        message = self.ws.get(channel, args.get("timestamp"))
        return {
            "ok": True,
            "type": "message",
            "channel": channel,
            "message": self.ws.to_api(message),
        }

    # -- views -----------------------------------------------------------------------------

    def _store_view(
        self,
        method: str,
        view: Any,
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
        state: dict[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
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
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
            "state": copy.deepcopy(state) if state is not None else {"values": {}},
        }
        self.ws.views[view_id] = stored
        self.ws.view_log.append(
            {"method": method, "view": copy.deepcopy(stored)} | dict(extra or {})
        )
        return {"ok": True, "view": stored}

    def _replace_view(self, method: str, view_id: str, view: Any, extra: Mapping[str, Any]) -> Args:
        """A view updated in place: same id, place in its stack and input state; new hash."""
        old = self.ws.views[view_id]
        return self._store_view(
            method,
            view,
            view_id=view_id,
            root_view_id=old["root_view_id"],
            previous_view_id=old["previous_view_id"],
            state=old["state"],
            extra=extra,
        )

    def _push_view(self, method: str, stack: list[str], view: Any, extra: Args) -> Args:
        if len(stack) >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
        answer = self._store_view(
            method, view, root_view_id=stack[0], previous_view_id=stack[-1], extra=extra
        )
        stack.append(answer["view"]["id"])
        return answer

    @staticmethod
    def _trigger_id(args: Args) -> str:
        trigger_id = _opt_str(args, "trigger_id") or _opt_str(args, "interactivity_pointer")
        if trigger_id is None:
            raise SlackError("invalid_arguments")
        return trigger_id

    def views_open(self, args: Args) -> dict[str, Any]:
        trigger_id = self._trigger_id(args)
        answer = self._store_view("views.open", args.get("view"), extra={"trigger_id": trigger_id})
        self.ws.stacks.append([answer["view"]["id"]])
        return answer

    def views_push(self, args: Args) -> dict[str, Any]:
        trigger_id = self._trigger_id(args)
        # The trigger names the modal when the simulator played an interaction inside it;
        # otherwise the most recently opened modal gets the view.
        from_view = self.ws.trigger_views.get(trigger_id)
        stack = self.ws.stack_of(from_view) if from_view is not None else None
        if stack is None and self.ws.stacks:
            stack = self.ws.stacks[-1]
        if stack is None:
            raise SlackError("invalid_trigger_id")
        return self._push_view("views.push", stack, args.get("view"), {"trigger_id": trigger_id})

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
        return self._replace_view("views.update", view_id, args.get("view"), {})

    def view_submitted(self, view_id: str, answer: Mapping[str, Any] | None) -> None:
        """Close or change a modal as Slack does once the app answered its `view_submission`.

        No `response_action` closes the submitted view; `clear` closes the whole modal;
        `update` and `push` are logged in `views()` with `method: "response_action"`.
        """
        stack = self.ws.stack_of(view_id)
        if stack is None:
            return
        action = (answer or {}).get("response_action")
        view = (answer or {}).get("view")
        if action == "errors":
            return
        if action == "clear":
            self.ws.stacks.remove(stack)
        elif action == "update":
            self._replace_view("response_action", view_id, view, {"response_action": "update"})
        elif action == "push":
            self._push_view("response_action", stack, view, {"response_action": "push"})
        else:
            stack.remove(view_id)
            if not stack:
                self.ws.stacks.remove(stack)

    def views_publish(self, args: Args) -> dict[str, Any]:
        user_id = _opt_str(args, "user_id")
        if user_id is None:
            raise SlackError("invalid_arguments")
        return self._store_view("views.publish", args.get("view"), extra={"user_id": user_id})

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
            channel = self._joined(channel_arg.split(",")[0])
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
            for file in files:
                file.shares.append((channel, shared.ts, shared.thread_ts))
            objects = [ws.file_object(f, self._root_url()) for f in files]
        return {"ok": True, "files": objects}

    def files_info(self, args: Args) -> dict[str, Any]:
        file = self.ws.files.get(str(args.get("file") or ""))
        if file is None or file.content is None:
            raise SlackError("file_not_found")
        return {"ok": True, "file": self.ws.file_object(file, self._root_url())}
