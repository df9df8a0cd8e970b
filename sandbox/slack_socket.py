"""Socket Mode as Slack runs it: the WebSocket link an app opens after `apps.connections.open`.

`apps.connections.open` hands out a single-use ticket in a `ws://` URL. An app connecting with
it first gets the `hello` message, then every request the simulator plays as an envelope::

    {"envelope_id": "…", "payload": {…}, "type": "events_api" | "slash_commands" | "interactive",
     "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": ""}

(`retry_*` only on `events_api` envelopes, as Slack sends them). The app acknowledges with
`{"envelope_id": "…", "payload": {…}}`, the payload being optional. An `events_api` envelope
left unacknowledged is sent once more after a delay with `retry_attempt: 1`; slash commands and
interactivity are never retried, Slack shows the user an error instead.

The server runs on the simulator's event loop (the Web API's uvicorn serves no WebSockets);
`deliver` and `disconnect` are for the other threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

__all__ = ["EnvelopeType", "SocketConnection", "SocketEnvelope", "SocketModeServer"]

EnvelopeType = Literal["events_api", "slash_commands", "interactive"]

HOST = "127.0.0.1"
_DEBUG_INFO = {"host": "applink-sim", "build_number": 1, "approximate_connection_time": 18060}
_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SocketConnection:
    """One WebSocket connection an app opened with a ticket, and when it closed."""

    id: str
    opened_at: float
    closed_at: float | None = None

    @property
    def is_open(self) -> bool:
        """Whether the connection is still open."""
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class SocketEnvelope:
    """An envelope the simulator sent, the `retry_attempt` of each send, and the app's acks."""

    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    accepts_response_payload: bool
    attempts: tuple[int, ...]
    acks: tuple[dict[str, Any], ...]

    @property
    def acked(self) -> bool:
        """Whether the app acknowledged it."""
        return bool(self.acks)

    @property
    def ack_payload(self) -> dict[str, Any] | None:
        """The `payload` of the first ack, when it carried one."""
        payload = self.acks[0].get("payload") if self.acks else None
        return payload if isinstance(payload, dict) else None


@dataclass(eq=False)
class _Pending:
    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    accepts_response_payload: bool
    first_attempt: int
    retry_reason: str
    attempts: list[int] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    def message(self, attempt: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            message["retry_attempt"] = attempt
            message["retry_reason"] = self.retry_reason if attempt else ""
        return message

    def snapshot(self) -> SocketEnvelope:
        return SocketEnvelope(
            envelope_id=self.envelope_id,
            type=self.type,
            payload=copy.deepcopy(self.payload),
            accepts_response_payload=self.accepts_response_payload,
            attempts=tuple(self.attempts),
            acks=tuple(copy.deepcopy(self.acks)),
        )


@dataclass(eq=False)
class _Link:
    id: str
    ws: web.WebSocketResponse
    opened_at: float
    closed_at: float | None = None
    # Envelopes go only to links that got `hello` and were not asked to disconnect.
    ready: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: Mapping[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_str(json.dumps(message, ensure_ascii=False))

    def record(self) -> SocketConnection:
        return SocketConnection(self.id, self.opened_at, self.closed_at)


class SocketModeServer:
    """The WebSocket end of Socket Mode on loopback: tickets, connections, envelopes and acks."""

    def __init__(self, *, app_id: str) -> None:
        self.app_id = app_id
        # Guards what other threads read (records) or write (tickets); the rest is loop-only.
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._links: list[_Link] = []
        self._envelopes: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def running(self) -> bool:
        """Whether the server accepts connections."""
        return self._loop is not None

    @property
    def pending(self) -> int:
        """Deliveries still waiting for a connection, an ack or their retry."""
        return len(self._tasks)

    async def start(self) -> None:
        """Listen on a free loopback port, on the running event loop."""
        app = web.Application()
        app.router.add_get("/link/", self._connect)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((HOST, 0))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        self._runner = runner
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Cancel pending deliveries, close every connection (1001) and stop listening."""
        self._loop = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for link in list(self._links):
            with contextlib.suppress(Exception):
                await link.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulator stopping")
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def issue_url(self) -> str:
        """A fresh single-use WebSocket URL, as `apps.connections.open` answers it."""
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{HOST}:{self._port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- records ---------------------------------------------------------------------------

    def connections(self) -> list[SocketConnection]:
        """Every connection opened (since the last `clear`), in order, open or closed."""
        with self._lock:
            return [link.record() for link in self._links]

    def envelopes(self) -> list[SocketEnvelope]:
        """Every envelope sent (since the last `clear`), in order, with its acks."""
        with self._lock:
            return [pending.snapshot() for pending in self._envelopes.values()]

    def clear(self) -> None:
        """Forget envelopes and closed connections; open connections stay."""
        with self._lock:
            self._envelopes.clear()
            self._links = [link for link in self._links if link.closed_at is None]

    # -- the link --------------------------------------------------------------------------

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            return web.Response(status=401, text="invalid_ticket")
        # timeout: how long a close waits for the app's close frame.
        ws = web.WebSocketResponse(timeout=1.0)
        await ws.prepare(request)
        link = _Link(id=f"S{next(self._ids):04d}", ws=ws, opened_at=time.time())
        with self._lock:
            self._links.append(link)
            open_links = sum(1 for other in self._links if other.closed_at is None)
        try:
            await link.send(
                {
                    "type": "hello",
                    "num_connections": open_links,
                    "debug_info": _DEBUG_INFO,
                    "connection_info": {"app_id": self.app_id},
                }
            )
            link.ready = True
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_text(message.data)
        finally:
            link.ready = False
            with self._lock:
                link.closed_at = time.time()
        return ws

    def _on_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            _LOG.warning("Socket Mode: ignoring a frame that is not JSON")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._lock:
            pending = self._envelopes.get(str(envelope_id))
            if pending is not None:
                pending.acks.append(message)
        if pending is None:
            _LOG.warning("Socket Mode: ack for an unknown envelope %s", envelope_id)
        else:
            pending.acked.set()

    def _ready_link(self) -> _Link | None:
        # The newest connection: after a refresh the app drops the older one.
        return next((link for link in reversed(self._links) if link.ready), None)

    # -- delivery --------------------------------------------------------------------------

    async def send(
        self,
        kind: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool,
        ack_timeout: float,
        retry_delay: float | None,
        retry_attempt: int = 0,
        retry_reason: str = "timeout",
    ) -> SocketEnvelope:
        """Send an envelope and wait up to `ack_timeout` seconds for its ack; a retry goes on."""
        pending = _Pending(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=copy.deepcopy(dict(payload)),
            accepts_response_payload=accepts_response_payload,
            first_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        with self._lock:
            self._envelopes[pending.envelope_id] = pending
        task = asyncio.get_running_loop().create_task(self._run(pending, ack_timeout, retry_delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.acked.wait(), ack_timeout)
        with self._lock:
            return pending.snapshot()

    async def _run(self, pending: _Pending, patience: float, retry_delay: float | None) -> None:
        if not await self._attempt(pending, pending.first_attempt, patience):
            return
        if retry_delay is None or pending.type != "events_api" or pending.first_attempt != 0:
            return
        try:
            await asyncio.wait_for(pending.acked.wait(), retry_delay)
        except TimeoutError:
            await self._attempt(pending, 1, patience)

    async def _attempt(self, pending: _Pending, attempt: int, patience: float) -> bool:
        """Send one attempt on the newest ready link, waiting up to `patience` s for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while (link := self._ready_link()) is None:
            if loop.time() >= deadline:
                _LOG.warning("Socket Mode: no connection for envelope %s", pending.envelope_id)
                return False
            await asyncio.sleep(0.01)
        # Recorded first: the ack can be read before `send` returns.
        with self._lock:
            pending.attempts.append(attempt)
        try:
            await link.send(pending.message(attempt))
        except ConnectionError:
            with self._lock:
                pending.attempts.pop()
            return False
        return True

    async def disconnect_all(self, reason: str) -> int:
        """Send `disconnect` with `reason` on every ready link, which then gets no envelopes."""
        sent = 0
        for link in list(self._links):
            if not link.ready:
                continue
            link.ready = False
            with contextlib.suppress(ConnectionError):
                await link.send({"type": "disconnect", "reason": reason, "debug_info": _DEBUG_INFO})
                sent += 1
        return sent

    # -- for other threads -----------------------------------------------------------------

    def _run_here(self, coro: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            coro.close()
            raise RuntimeError(
                "Socket Mode is not running (give the simulator an app_token and start it)"
                if loop is None
                else "call the simulator's helpers from another thread (asyncio.to_thread)"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def deliver(
        self,
        kind: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool,
        ack_timeout: float,
        retry_delay: float | None,
        retry_attempt: int = 0,
        retry_reason: str = "timeout",
    ) -> SocketEnvelope:
        """`send` from another thread: blocks until acked or `ack_timeout` seconds pass."""
        return self._run_here(
            self.send(
                kind,
                payload,
                accepts_response_payload=accepts_response_payload,
                ack_timeout=ack_timeout,
                retry_delay=retry_delay,
                retry_attempt=retry_attempt,
                retry_reason=retry_reason,
            )
        )

    def disconnect(self, reason: str) -> int:
        """`disconnect_all` from another thread; returns how many links were told."""
        return self._run_here(self.disconnect_all(reason))
