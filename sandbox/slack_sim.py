"""A local simulator of the Slack Web API, and of Slack's requests to an app (events, commands).

The Web API part answers the methods the bridge calls over real HTTP on loopback and keeps the
resulting workspace state; the agent side plays humans in Slack by POSTing signed events,
slash commands and interactivity payloads to the bridge's `events_url`.

In Socket Mode (`socket_mode=True`, with an `app_token`) the same requests travel as envelopes
over the WebSocket the app opened with `apps.connections.open` (see `sandbox.slack_socket`), and
the helpers return the app's ack instead of its HTTP response.

The helpers that deliver to the bridge are synchronous: from a coroutine, call them through
`asyncio.to_thread`, or a bridge served by the same event loop could never answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sandbox.forms import maybe_json, parse_multipart, parse_urlencoded
from sandbox.senders import Outbox, wait_for
from sandbox.server import ServedApp, forgive_disconnects
from sandbox.slack_events import (
    API_APP_ID,
    VERIFICATION_TOKEN,
    Delivery,
    button_action,
    event_callback,
    form_body,
    human_blocks,
    interactivity_body,
    new_trigger_id,
    signed_headers,
)
from sandbox.slack_methods import REQUIRED_SCOPES, WebApi
from sandbox.slack_socket import (
    EnvelopeType,
    SocketConnection,
    SocketEnvelope,
    SocketModeServer,
)
from sandbox.slack_state import SimFile, SimMessage, SlackError, Workspace

__all__ = [
    "ApiCall",
    "DeliveredEvent",
    "Delivery",
    "SimMessage",
    "SlackError",
    "SlackSimulator",
    "SocketConnection",
    "SocketEnvelope",
]

DEFAULT_CHANNEL = "C0SUPPORT"
#: The bot token's scopes unless a test grants others: exactly what the shipped manifests
#: ask for (``slack-manifest.yml``), so that a channel the bot is not in answers
#: ``not_in_channel`` here as it would in a real workspace (no ``chat:write.public``).
SCOPES = (
    "channels:history,chat:write,commands,files:read,files:write,groups:history,"
    "reactions:read,reactions:write,users:read"
)
# Web API arguments that carry JSON; form bodies send them as JSON strings.
_JSON_ARGS = ("blocks", "attachments", "metadata", "view", "files")
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
# Interactivity whose ack may carry an answer (errors, a new view, options), as Slack marks it.
_ANSWERED_INTERACTIONS = ("view_submission", "block_suggestion")


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Web API call the simulator received, with how it was answered."""

    method: str
    args: dict[str, Any]
    at: float
    ok: bool
    error: str | None
    status: int


@dataclass(frozen=True)
class DeliveredEvent:
    """An Events API request the simulator delivered, and the bridge's status.

    Over HTTP `status` is the response's (0: no answer, the bridge was down); in Socket Mode
    it is 200 once acked, 0 if never.
    """

    ts: str
    event_id: str
    body: bytes
    status: int
    response: httpx.Response | None = field(default=None, compare=False, repr=False)
    envelope: SocketEnvelope | None = field(default=None, compare=False, repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        """The `event_callback` JSON that was sent."""
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class _Fault:
    method: str | None
    kind: Literal["ratelimit", "fail", "error"]
    remaining: int | None  # None: until heal()
    status: int = 500
    retry_after: int = 1
    error: str = ""


class SlackSimulator(ServedApp):
    """The Slack Web API on loopback: use `.url` as `SLACK_API_URL`.

    `app_token` (`xapp-…`) enables `apps.connections.open` and the Socket Mode WebSocket;
    `socket_mode` (settable later) makes the agent side deliver over it instead of HTTP.
    `socket_retry_delay` (None: never) and `socket_ack_timeout` tune Socket Mode delivery.
    """

    _server_name = "slack-sim"

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        events_url: str | None = None,
        team_id: str = "T0SIM",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        echo_bot_messages: bool = True,
        echo_bot_reactions: bool = True,
        port: int = 0,
        app_token: str | None = None,
        socket_mode: bool = False,
        scopes: Iterable[str] | None = None,
    ) -> None:
        if socket_mode and not app_token:
            raise ValueError("socket_mode needs an app_token")
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.events_url = events_url
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.echo_bot_messages = echo_bot_messages
        # Slack tells an app about its own reactions too: an app must not take them for a
        # human's (the bridge's delivery marks, the customer's reactions it shows).
        self.echo_bot_reactions = echo_bot_reactions
        self.app_token = app_token
        self.socket_mode = socket_mode
        # Slack gives an app about 3 s to ack before it retries an event.
        self.socket_retry_delay: float | None = 3.0
        self.socket_ack_timeout = 10.0
        # Re-entrant: query helpers call each other while holding it.
        self._lock = threading.RLock()
        self._ws = Workspace(team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id)
        self._ws.add_channel(DEFAULT_CHANNEL, "support")
        self._default_scopes = tuple(SCOPES.split(",") if scopes is None else scopes)
        self._api = WebApi(self._ws, self._root_url, self._default_scopes)
        self._revoked = False
        self._socket = SocketModeServer(app_id=API_APP_ID)
        self._calls: list[ApiCall] = []
        self._faults: list[_Fault] = []
        self._events: list[DeliveredEvent] = []
        self._latency = 0.0
        self._outbox: Outbox | None = None
        self._init_serving(port)
        self.app = self._build_app()

    @property
    def url(self) -> str:
        """The Web API root to use as `SLACK_API_URL`, e.g. `http://127.0.0.1:54321/api/`."""
        return self._root_url() + "/api/"

    # -- configuration and failure injection -----------------------------------------------

    def add_channel(self, channel_id: str, name: str, *, private: bool = False) -> None:
        """Create a channel (public unless `private`) the bot is a member of."""
        with self._lock:
            self._ws.add_channel(channel_id, name, private=private)

    def remove_bot(self, channel: str) -> None:
        """Take the bot out of a channel (by id or name): `is_member` false, `not_in_channel`."""
        with self._lock:
            self._ws.absent.add(self._ws.resolve_channel(channel))

    def add_bot(self, channel: str) -> None:
        """Put the bot back into a channel (by id or name)."""
        with self._lock:
            self._ws.absent.discard(self._ws.resolve_channel(channel))

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Grant the bot token these scopes: `X-OAuth-Scopes` and `missing_scope` follow them."""
        with self._lock:
            self._api.scopes = tuple(scopes)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes granted to the bot token."""
        with self._lock:
            return self._api.scopes

    def revoke_token(self) -> None:
        """Answer every later call with the bot token `token_revoked`, until `restore_token()`."""
        with self._lock:
            self._revoked = True

    def restore_token(self) -> None:
        """Accept the bot token again after `revoke_token()`."""
        with self._lock:
            self._revoked = False

    def add_user(self, user_id: str, real_name: str, display_name: str | None = None) -> None:
        """Give a user the names `users.info` answers (any other `U…` id gets made-up names)."""
        with self._lock:
            self._ws.users[user_id] = (real_name, display_name or real_name)

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def rate_limit_next(self, method: str | None, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next `count` calls of `method` (None: any) with 429 and `Retry-After`."""
        self._add_fault(_Fault(method, "ratelimit", count, status=429, retry_after=retry_after))

    def fail_next(self, method: str | None, count: int = 1, status: int = 500) -> None:
        """Answer the next `count` calls of `method` (None: any) with HTTP `status`."""
        self._add_fault(_Fault(method, "fail", count, status=status))

    def error_next(self, method: str | None, error: str, count: int = 1) -> None:
        """Answer the next `count` calls of `method` with 200 `{"ok": false, "error": error}`."""
        self._add_fault(_Fault(method, "error", count, status=200, error=error))

    def error_all(self, method: str | None, error: str) -> None:
        """Answer every call of `method` with `{"ok": false, "error": error}` until `heal()`."""
        self._add_fault(_Fault(method, "error", None, status=200, error=error))

    def fail_all(self, method: str | None, status: int = 500) -> None:
        """Answer every call of `method` (None: any) with HTTP `status` until `heal()`."""
        self._add_fault(_Fault(method, "fail", None, status=status))

    def heal(self) -> None:
        """Drop every injected failure: everything answers normally again."""
        with self._lock:
            self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        """Delay every Web API answer by `seconds`."""
        with self._lock:
            self._latency = seconds

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method is None or fault.method == method:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- state queries ---------------------------------------------------------------------

    def _channel_id(self, channel: str) -> str:
        try:
            return self._ws.resolve_channel(channel)
        except SlackError:
            return channel

    def messages(self, channel: str = DEFAULT_CHANNEL) -> list[SimMessage]:
        """Every message of a channel (top-level and replies, deleted ones flagged), post order."""
        with self._lock:
            return copy.deepcopy(self._ws.messages.get(self._channel_id(channel), []))

    def find(self, channel: str, text: str) -> SimMessage | None:
        """The channel's latest message with exactly ``text``, if any: a copy of that one
        message, where ``messages`` copies the whole channel (thousands of messages under a
        bench's load, with the simulator's lock held meanwhile)."""
        with self._lock:
            for message in reversed(self._ws.messages.get(self._channel_id(channel), [])):
                if message.text == text:
                    return copy.deepcopy(message)
        return None

    def thread(self, channel: str, thread_ts: str) -> list[SimMessage]:
        """The replies of a thread, parent excluded, in order."""
        with self._lock:
            return copy.deepcopy(self._ws.replies(self._channel_id(channel), thread_ts))

    def top_level(self, channel: str = DEFAULT_CHANNEL) -> list[SimMessage]:
        """The channel's messages that are not thread replies, in order."""
        return [m for m in self.messages(channel) if not m.is_reply]

    def message(self, channel: str, ts: str) -> SimMessage | None:
        """The message at `ts` (deleted ones too), or None."""
        return next((m for m in self.messages(channel) if m.ts == ts), None)

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Names of the reactions on a message, in the order first added."""
        message = self.message(channel, ts)
        return [] if message is None else [n for n, users in message.reactions.items() if users]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Web API calls received, in order, optionally of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def ephemerals(self) -> list[dict[str, Any]]:
        """Ephemeral messages posted by the bot, in order."""
        with self._lock:
            return copy.deepcopy(self._ws.ephemerals)

    def views(self) -> list[dict[str, Any]]:
        """Every `views.open/push/update/publish` as `{"method", "view", ...}`, in order."""
        with self._lock:
            return copy.deepcopy(self._ws.view_log)

    def responses(self) -> list[dict[str, Any]]:
        """Bodies the bridge POSTed to `response_url`s, in order."""
        with self._lock:
            return copy.deepcopy(self._ws.responses)

    def events(self) -> list[DeliveredEvent]:
        """Every event delivered to `events_url` (agent actions and bot echoes), in order."""
        with self._lock:
            return list(self._events)

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file id."""
        with self._lock:
            file = self._ws.files.get(file_id)
            return None if file is None else file.content

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> bool:
        """Poll `predicate` until true or `timeout` seconds pass."""
        return wait_for(predicate, timeout)

    def socket_connections(self) -> list[SocketConnection]:
        """Socket Mode connections the app opened (open and closed), in order."""
        return self._socket.connections()

    def envelopes(self) -> list[SocketEnvelope]:
        """Socket Mode envelopes sent, in order, each with its attempts and the app's acks."""
        return self._socket.envelopes()

    def disconnect_sockets(self, reason: str = "refresh_requested") -> int:
        """Send Slack's `disconnect` message on every open link; the app should reconnect."""
        return self._socket.disconnect(reason)

    def wait_idle(self, timeout: float = 10) -> bool:
        """Wait until no background work (echoes, Socket Mode retries) is pending."""
        return wait_for(
            lambda: (
                (self._outbox is None or self._outbox.pending == 0) and self._socket.pending == 0
            ),
            timeout,
        )

    def reset(self) -> None:
        """Forget messages, files, views, recordings and failures; channels and users stay.

        The bot token, its scopes and the bot's channel memberships are restored too.
        """
        with self._lock:
            self._ws.clear()
            self._ws.absent.clear()
            self._api.scopes = self._default_scopes
            self._revoked = False
            self._calls.clear()
            self._faults.clear()
            self._events.clear()
            self._latency = 0.0
        self._socket.clear()

    # -- agent side: requests from Slack to the bridge -------------------------------------

    def _events_url(self) -> str:
        if not self.events_url:
            raise RuntimeError("SlackSimulator.events_url is not set")
        return self.events_url

    def _check_target(self) -> None:
        """Fail early, before changing state, when there is nowhere to deliver to."""
        if not self.socket_mode:
            self._events_url()
        elif not self._socket.running:
            raise RuntimeError("Socket Mode is not running: give the simulator an app_token")

    def _send_envelope(
        self,
        kind: EnvelopeType,
        payload: Mapping[str, Any],
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "timeout",
    ) -> SocketEnvelope:
        return self._socket.deliver(
            kind,
            payload,
            accepts_response_payload=accepts_response_payload,
            ack_timeout=self.socket_ack_timeout,
            retry_delay=self.socket_retry_delay,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    def _post_signed(
        self, body: bytes, content_type: str, extra: Mapping[str, str] | None = None
    ) -> httpx.Response:
        headers = signed_headers(self.signing_secret, body, content_type)
        headers.update(extra or {})
        return self._sender.post(self._events_url(), body, headers)

    def _message_event(self, message: SimMessage) -> dict[str, Any]:
        event = self._ws.to_api(message)
        event.pop("reactions", None)
        event.update(
            channel=message.channel, event_ts=message.ts, channel_type=self._kind(message.channel)
        )
        return event

    def _kind(self, channel: str) -> str:
        return "group" if channel in self._ws.private else "channel"

    def _deliver(self, event: Mapping[str, Any], ts: str) -> DeliveredEvent:
        callback = event_callback(event, team_id=self.team_id, bot_user_id=self.bot_user_id)
        body = json.dumps(callback, ensure_ascii=False).encode()
        if self.socket_mode:
            sent = self._send_envelope("events_api", callback)
            delivered = DeliveredEvent(
                ts, callback["event_id"], body, 200 if sent.acked else 0, envelope=sent
            )
        else:
            try:
                response: httpx.Response | None = self._post_signed(body, _JSON)
            except httpx.TransportError:
                response = None  # no answer: Slack retries it (see `redeliver`)
            status = 0 if response is None else response.status_code
            delivered = DeliveredEvent(ts, callback["event_id"], body, status, response)
        with self._lock:
            self._events.append(delivered)
        return delivered

    def _human_message(
        self, channel: str, thread_ts: str | None, text: str, user: str
    ) -> dict[str, Any]:
        self._check_target()
        with self._lock:
            message = self._ws.add_message(
                SimMessage(
                    channel=self._ws.resolve_channel(channel),
                    ts=self._ws.next_ts(),
                    thread_ts=thread_ts,
                    text=text,
                    blocks=human_blocks(text),
                    user=user,
                    bot_id=None,
                    metadata=None,
                    files=None,
                    client_msg_id=str(uuid.uuid4()),
                )
            )
            return self._message_event(message)

    def agent_reply(
        self, *, channel: str, thread_ts: str, text: str, user: str = "UAGENT1"
    ) -> DeliveredEvent:
        """A human replies in a thread: store it and deliver the `message` event."""
        return self._agent_message(channel, thread_ts, text, user)

    def agent_post(self, channel: str, text: str, user: str = "UAGENT1") -> DeliveredEvent:
        """A human posts a top-level message: store it and deliver the `message` event."""
        return self._agent_message(channel, None, text, user)

    def agent_upload(
        self,
        *,
        channel: str,
        filename: str,
        content: bytes,
        thread_ts: str | None = None,
        mimetype: str | None = None,
        text: str = "",
        user: str = "UAGENT1",
        size: int | None = None,
    ) -> DeliveredEvent:
        """A human shares a file (in a thread): deliver a `file_share` message event.

        `size` is the size Slack reports, when it should not be that of `content` (a file
        too large to hold in a test, simulated by a few bytes)."""
        self._check_target()
        mime = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with self._lock:
            ws = self._ws
            file_id = ws.next_id("F")
            file = SimFile(
                id=file_id,
                name=filename,
                length=len(content),
                user=user,
                content=content,
                mimetype=mime,
                declared_size=size,
            )
            ws.files[file_id] = file
            message = ws.add_message(
                SimMessage(
                    channel=ws.resolve_channel(channel),
                    ts=ws.next_ts(),
                    thread_ts=thread_ts,
                    text=text,
                    blocks=human_blocks(text) if text else None,
                    user=user,
                    bot_id=None,
                    metadata=None,
                    files=[ws.file_object(file, self._root_url())],
                    subtype="file_share",
                    client_msg_id=str(uuid.uuid4()),
                )
            )
            event = self._message_event(message)
        return self._deliver(event, message.ts)

    def agent_edit(
        self, channel: str, ts: str, new_text: str, user: str | None = None
    ) -> DeliveredEvent:
        """A human edits a message: update it and deliver a `message_changed` event."""
        self._check_target()
        with self._lock:
            ws = self._ws
            channel_id = ws.resolve_channel(channel)
            message = ws.get(channel_id, ts)
            previous = ws.to_api(message)
            message.text = new_text
            message.blocks = human_blocks(new_text)
            message.edited = True
            message.edited_ts = ws.next_ts()
            current = ws.to_api(message)
            if user is not None:
                current["edited"]["user"] = user
            event_ts = message.edited_ts
        event = {
            "type": "message",
            "subtype": "message_changed",
            "message": current,
            "previous_message": previous,
            "channel": channel_id,
            "hidden": True,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": "channel",
        }
        return self._deliver(event, ts)

    def agent_delete(self, channel: str, ts: str) -> DeliveredEvent:
        """A human deletes a message: flag it deleted and deliver a `message_deleted` event."""
        self._check_target()
        with self._lock:
            ws = self._ws
            channel_id = ws.resolve_channel(channel)
            message = ws.get(channel_id, ts)
            previous = ws.to_api(message)
            message.deleted = True
            event_ts = ws.next_ts()
        event: dict[str, Any] = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": ts,
            "channel": channel_id,
            "previous_message": previous,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": "channel",
        }
        if message.is_reply:
            event["thread_ts"] = message.thread_ts
        return self._deliver(event, ts)

    def _reaction_event(
        self, message: SimMessage, name: str, user: str, *, added: bool
    ) -> dict[str, Any]:
        """The `reaction_added` or `reaction_removed` event for a reaction; holds the lock."""
        return {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": message.channel, "ts": message.ts},
            "item_user": message.user,
            "event_ts": self._ws.next_ts(),
        }

    def _react(self, channel: str, ts: str, name: str, user: str, added: bool) -> DeliveredEvent:
        self._check_target()
        name = name.strip(":")
        with self._lock:
            ws = self._ws
            channel_id = ws.resolve_channel(channel)
            message = ws.get(channel_id, ts)
            users = message.reactions.setdefault(name, [])
            if added and user not in users:
                users.append(user)
            if not added and user in users:
                users.remove(user)
            if not users:
                del message.reactions[name]
            event = self._reaction_event(message, name, user, added=added)
        return self._deliver(event, ts)

    def agent_react(
        self, channel: str, ts: str, name: str, user: str = "UAGENT1"
    ) -> DeliveredEvent:
        """A human adds a reaction: store it and deliver a `reaction_added` event."""
        return self._react(channel, ts, name, user, added=True)

    def agent_unreact(
        self, channel: str, ts: str, name: str, user: str = "UAGENT1"
    ) -> DeliveredEvent:
        """A human removes a reaction: deliver a `reaction_removed` event."""
        return self._react(channel, ts, name, user, added=False)

    def redeliver(
        self, event: DeliveredEvent, retry_num: int = 1, reason: str = "http_timeout"
    ) -> DeliveredEvent:
        """Deliver the same body again as Slack's retry does (fresh signature, retry headers).

        In Socket Mode: a new envelope with `retry_attempt: retry_num` and `retry_reason`.
        """
        if self.socket_mode:
            sent = self._send_envelope("events_api", event.payload, False, retry_num, reason)
            again = DeliveredEvent(
                event.ts, event.event_id, event.body, 200 if sent.acked else 0, envelope=sent
            )
        else:
            retry = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason}
            try:
                response: httpx.Response | None = self._post_signed(event.body, _JSON, retry)
            except httpx.TransportError:
                response = None
            status = 0 if response is None else response.status_code
            again = DeliveredEvent(event.ts, event.event_id, event.body, status, response)
        with self._lock:
            self._events.append(again)
        return again

    def url_verification(self, challenge: str = "sim-challenge") -> httpx.Response:
        """The `url_verification` request Slack sends when the Request URL is configured.

        Always over HTTP: Socket Mode has no Request URL to verify.
        """
        body = json.dumps(
            {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        ).encode()
        return self._post_signed(body, _JSON)

    def _response_url(self) -> str:
        with self._lock:
            response_id = self._ws.next_id("R")
        return f"{self._root_url()}/_sim/response_url/{response_id}"

    def _user(self, user: str) -> dict[str, str]:
        with self._lock:
            _, display = self._ws.user_names(user)
        return {"id": user, "username": display, "name": display, "team_id": self.team_id}

    def _channel(self, channel: str) -> dict[str, str]:
        with self._lock:
            name = self._ws.channels.get(channel, "directmessage")
        return {"id": channel, "name": name}

    def _message_for(self, channel: str, message_ts: str, thread_ts: str | None) -> dict[str, Any]:
        with self._lock:
            found = self._ws.find(channel, message_ts)
            data = (
                self._ws.to_api(found)
                if found is not None
                else {"type": "message", "ts": message_ts, "text": "", "user": self.bot_user_id}
            )
        if thread_ts is not None:
            data.setdefault("thread_ts", thread_ts)
        return data

    def slash_command(
        self,
        command: str,
        text: str,
        *,
        user: str = "UAGENT1",
        channel: str = DEFAULT_CHANNEL,
        trigger_id: str | None = None,
    ) -> Delivery:
        """A human runs a slash command: a signed form POST shaped like Slack's.

        In Socket Mode: a `slash_commands` envelope whose payload is the same fields.
        """
        self._check_target()
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": "sandbox",
            "channel_id": channel,
            "channel_name": self._channel(channel)["name"],
            "user_id": user,
            "user_name": self._user(user)["name"],
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._response_url(),
            "trigger_id": trigger_id or new_trigger_id(),
        }
        if self.socket_mode:
            return Delivery.of_envelope(self._send_envelope("slash_commands", fields, True))
        return Delivery.of_response(self._post_signed(form_body(fields), _FORM))

    def _interact(self, payload: Mapping[str, Any]) -> Delivery:
        """Deliver interactivity: a signed `payload=` form, or an `interactive` envelope."""
        self._check_target()
        if self.socket_mode:
            answers = payload.get("type") in _ANSWERED_INTERACTIONS
            return Delivery.of_envelope(self._send_envelope("interactive", payload, answers))
        return Delivery.of_response(self._post_signed(interactivity_body(payload), _FORM))

    def _base_payload(self, kind: str, user: str) -> dict[str, Any]:
        return {
            "type": kind,
            "user": self._user(user),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "team": {"id": self.team_id, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _view_of(
        self, view: Mapping[str, Any], values: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A view as interaction payloads carry it: the stored one (if known) overlaid by `view`."""
        with self._lock:
            stored = self._ws.views.get(str(view.get("id")), {})
            shown = copy.deepcopy(stored) | copy.deepcopy(dict(view))
            shown.setdefault("id", self._ws.next_id("V"))
        shown.setdefault("type", "modal")
        shown.setdefault("team_id", self.team_id)
        shown.setdefault("app_id", API_APP_ID)
        shown.setdefault("bot_id", self.bot_id)
        shown.setdefault("root_view_id", shown["id"])
        shown.setdefault("previous_view_id", None)
        if values is not None:
            shown["state"] = {"values": copy.deepcopy(dict(values))}
        shown.setdefault("state", {"values": {}})
        return shown

    def _trigger_in(self, view_id: str, trigger_id: str | None) -> str:
        """A trigger id for an interaction inside a view, remembered for `views.push`."""
        trigger = trigger_id or new_trigger_id()
        with self._lock:
            self._ws.trigger_views[trigger] = view_id
        return trigger

    def block_action(
        self,
        *,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str,
        thread_ts: str | None = None,
        trigger_id: str | None = None,
        block_id: str = "actions",
    ) -> Delivery:
        """A human clicks a button on a message: a signed `block_actions` payload."""
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        if thread_ts is not None:
            container["thread_ts"] = thread_ts
        payload = self._base_payload("block_actions", user) | {
            "container": container,
            "trigger_id": trigger_id or new_trigger_id(),
            "channel": self._channel(channel),
            "message": self._message_for(channel, message_ts, thread_ts),
            "state": {"values": {}},
            "response_url": self._response_url(),
            "actions": [button_action(action_id, block_id, value)],
        }
        return self._interact(payload)

    def view_action(
        self,
        *,
        user: str,
        view: Mapping[str, Any],
        action_id: str,
        value: str,
        block_id: str = "actions",
        trigger_id: str | None = None,
    ) -> Delivery:
        """A human clicks a button inside a modal: `block_actions` with a view container.

        Its trigger id lets the app `views.push` onto that modal's stack.
        """
        shown = self._view_of(view)
        payload = self._base_payload("block_actions", user) | {
            "container": {"type": "view", "view_id": shown["id"]},
            "trigger_id": self._trigger_in(shown["id"], trigger_id),
            "view": shown,
            "actions": [button_action(action_id, block_id, value)],
        }
        return self._interact(payload)

    def block_suggestion(
        self, *, user: str, view: Mapping[str, Any], action_id: str, block_id: str, value: str
    ) -> Delivery:
        """A human types `value` into an `external_select` of a modal: an options request.

        The app answers `{"options": [...]}` or `{"option_groups": [...]}`; read it with `.json()`.
        """
        shown = self._view_of(view)
        payload = self._base_payload("block_suggestion", user) | {
            "container": {"type": "view", "view_id": shown["id"]},
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "view": shown,
        }
        return self._interact(payload)

    def message_shortcut(
        self,
        *,
        callback_id: str,
        channel: str,
        message_ts: str,
        user: str,
        thread_ts: str | None = None,
        trigger_id: str | None = None,
    ) -> Delivery:
        """A human runs a message shortcut on a post: a signed `message_action` payload."""
        payload = self._base_payload("message_action", user) | {
            "action_ts": f"{time.time():.6f}",
            "channel": self._channel(channel),
            "callback_id": callback_id,
            "trigger_id": trigger_id or new_trigger_id(),
            "response_url": self._response_url(),
            "message_ts": message_ts,
            "message": self._message_for(channel, message_ts, thread_ts),
        }
        return self._interact(payload)

    def view_submission(
        self, view: Mapping[str, Any], user: str, values: Mapping[str, Any] | None = None
    ) -> Delivery:
        """A human submits a modal: a signed `view_submission` payload; `values` fill its state.

        Once answered, the modal closes or changes as the app's `response_action` says.
        """
        submitted = self._view_of(view, values)
        payload = self._base_payload("view_submission", user) | {
            "trigger_id": self._trigger_in(submitted["id"], None),
            "view": submitted,
            "response_urls": [],
        }
        answer = self._interact(payload)
        if answer.status == 200:
            # An invalid view in the answer: Slack shows the user an error, nothing changes.
            with self._lock, contextlib.suppress(SlackError):
                self._api.view_submitted(submitted["id"], answer.payload)
        return answer

    # -- Web API ---------------------------------------------------------------------------

    @staticmethod
    def _parse_args(request: Request, body: bytes) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if body and "json" in content_type:
            parsed = json.loads(body)
            if not isinstance(parsed, dict):
                raise ValueError("JSON body is not an object")
            args.update(parsed)
        elif body and content_type.startswith(_FORM):
            args.update(parse_urlencoded(body))
        elif body and content_type.startswith("multipart/form-data"):
            args.update((p.name, p.text) for p in parse_multipart(body, content_type))
        for key in _JSON_ARGS:
            if key in args:
                args[key] = maybe_json(args[key])
        return args

    def _token(self, request: Request, args: dict[str, Any]) -> str | None:
        token = args.pop("token", None)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None if token is None else str(token)

    def _answer(
        self,
        method: str,
        args: dict[str, Any],
        data: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        app_level: bool = False,
    ) -> Response:
        call = ApiCall(
            method=method,
            args=copy.deepcopy(args),
            at=time.time(),
            ok=bool(data.get("ok")),
            error=data.get("error"),
            status=status,
        )
        with self._lock:
            self._calls.append(call)
            granted = ",".join(self._api.scopes)
            accepted = self._api.needed_scope(method, args) if method in REQUIRED_SCOPES else None
        # An app-level token carries its own scope, not the bot's.
        all_headers = {"X-OAuth-Scopes": "connections:write" if app_level else granted}
        if accepted is not None:
            all_headers["X-Accepted-OAuth-Scopes"] = accepted
        return JSONResponse(data, status_code=status, headers=all_headers | (headers or {}))

    def _auth_error(self, method: str, token: str | None) -> str | None:
        """How Slack refuses this token for this method, or None when it is accepted."""
        if not token:
            return "not_authed"
        if method == "apps.connections.open":
            if token == self.bot_token:
                return "not_allowed_token_type"
            return None if self.app_token and token == self.app_token else "invalid_auth"
        if self.app_token and token == self.app_token:
            return "not_allowed_token_type"
        if token != self.bot_token:
            return "invalid_auth"
        with self._lock:
            return "token_revoked" if self._revoked else None

    def _fault_answer(self, method: str, args: dict[str, Any], fault: _Fault) -> Response:
        if fault.kind == "ratelimit":
            return self._answer(
                method,
                args,
                {"ok": False, "error": "ratelimited"},
                429,
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "error":
            return self._answer(method, args, {"ok": False, "error": fault.error})
        return self._answer(method, args, {"ok": False, "error": "fatal_error"}, fault.status)

    async def _web_api(self, request: Request, method: str) -> Response:
        body = await request.body()
        try:
            args = self._parse_args(request, body)
        except ValueError:
            return self._answer(method, {}, {"ok": False, "error": "invalid_json"})
        with self._lock:
            latency = self._latency
        if latency:
            await asyncio.sleep(latency)
        token = self._token(request, args)
        error = self._auth_error(method, token)
        if error is not None:
            return self._answer(method, args, {"ok": False, "error": error})
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_answer(method, args, fault)
        if method == "apps.connections.open":
            data = {"ok": True, "url": self._socket.issue_url()}
            return self._answer(method, args, data, app_level=True)
        with self._lock:
            try:
                data = self._api.call(method, args)
            except SlackError as err:
                data = err.answer()
            posted = [self._message_event(m) for m in self._api.posted]
            self._api.posted.clear()
            reacted = [
                self._reaction_event(m, name, self.bot_user_id, added=added)
                for added, m, name in self._api.reacted
            ]
            self._api.reacted.clear()
        target = self.socket_mode or self.events_url
        echoes = (posted if self.echo_bot_messages else []) + (
            reacted if self.echo_bot_reactions else []
        )
        if target and self._outbox is not None:
            for event in echoes:
                self._outbox.spawn(self._echo(event))
        return self._answer(method, args, data)

    async def _echo(self, event: dict[str, Any]) -> None:
        """Deliver the event Slack sends for the bot's own post or reaction; failures are
        ignored."""
        url, outbox = self.events_url, self._outbox
        ts = str(event["item"]["ts"] if "item" in event else event["ts"])
        callback = event_callback(event, team_id=self.team_id, bot_user_id=self.bot_user_id)
        body = json.dumps(callback, ensure_ascii=False).encode()
        if self.socket_mode and self._socket.running:
            sent = await self._socket.send(
                "events_api",
                callback,
                accepts_response_payload=False,
                ack_timeout=self.socket_ack_timeout,
                retry_delay=self.socket_retry_delay,
            )
            delivered = DeliveredEvent(
                ts, callback["event_id"], body, 200 if sent.acked else 0, envelope=sent
            )
        elif url and outbox is not None:
            headers = signed_headers(self.signing_secret, body, _JSON)
            response = await outbox.post(url, body, headers)
            status = 0 if response is None else response.status_code
            delivered = DeliveredEvent(ts, callback["event_id"], body, status)
        else:
            return
        with self._lock:
            self._events.append(delivered)

    async def _upload(self, request: Request, file_id: str) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        content, part_type = body, None
        if content_type.startswith("multipart/form-data"):
            parts = {p.name: p for p in parse_multipart(body, content_type)}
            part = parts.get("file") or next(iter(parts.values()), None)
            if part is None:
                return PlainTextResponse("no file", status_code=400)
            content, part_type = part.data, part.content_type
        with self._lock:
            file = self._ws.files.get(file_id)
            if file is None:
                return PlainTextResponse("not found", status_code=404)
            file.content = content
            guessed = mimetypes.guess_type(file.name)[0]
            file.mimetype = guessed or part_type or "application/octet-stream"
        return PlainTextResponse(f"OK - {len(content)}")

    def _download(self, request: Request, file_id: str) -> Response:
        if request.headers.get("authorization", "") != f"Bearer {self.bot_token}":
            return PlainTextResponse("not authorized", status_code=403)
        with self._lock:
            file = self._ws.files.get(file_id)
            if file is None or file.content is None:
                return PlainTextResponse("not found", status_code=404)
            return Response(file.content, media_type=file.mimetype)

    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            if self.app_token:
                await self._socket.start()
            outbox = Outbox()
            self._outbox = outbox
            try:
                yield
            finally:
                self._outbox = None
                await outbox.aclose()
                await self._socket.stop()

        app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
        forgive_disconnects(app)

        @app.api_route("/api/{method}", methods=["GET", "POST"])
        async def web_api(request: Request, method: str) -> Response:
            return await self._web_api(request, method)

        @app.post("/_sim/upload/{file_id}")
        async def upload(request: Request, file_id: str) -> Response:
            return await self._upload(request, file_id)

        @app.get("/_sim/files/{file_id}/{name}")
        async def download(request: Request, file_id: str, name: str) -> Response:
            return self._download(request, file_id)

        @app.post("/_sim/response_url/{response_id}")
        async def response_url(request: Request, response_id: str) -> Response:
            body = await request.body()
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                data = parse_urlencoded(body)
            with self._lock:
                self._ws.responses.append(data if isinstance(data, dict) else {"body": data})
            return JSONResponse({"ok": True})

        @app.get("/_sim/messages")
        async def sim_messages(channel: str = DEFAULT_CHANNEL) -> Response:
            return JSONResponse([asdict(m) for m in self.messages(channel)])

        @app.get("/_sim/calls")
        async def sim_calls() -> Response:
            return JSONResponse([asdict(c) for c in self.calls()])

        @app.post("/_sim/agent/reply")
        async def sim_agent_reply(request: Request) -> Response:
            args = await request.json()
            delivered = await asyncio.to_thread(
                self._agent_message,
                str(args.get("channel", DEFAULT_CHANNEL)),
                args.get("thread_ts"),
                str(args["text"]),
                str(args.get("user", "UAGENT1")),
            )
            return JSONResponse(
                {"ts": delivered.ts, "event_id": delivered.event_id, "status": delivered.status}
            )

        return app

    def _agent_message(
        self, channel: str, thread_ts: str | None, text: str, user: str
    ) -> DeliveredEvent:
        event = self._human_message(channel, thread_ts, text, user)
        return self._deliver(event, event["ts"])
