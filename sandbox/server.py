"""Run an ASGI app with uvicorn on loopback in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from sandbox.senders import SyncSender

__all__ = [
    "PORT_LOCKS",
    "ServedApp",
    "ServerThread",
    "Startable",
    "forgive_disconnects",
    "free_port",
    "release_port",
]

HOST = "127.0.0.1"


#: One lock file per port handed out, held while it is in use (``free_port``); per user, so
#: that one user's files never stand in another's way.
PORT_LOCKS: Final = Path(tempfile.gettempdir()) / f"wabridge-ports-{os.getuid()}"
_HELD: dict[int, int] = {}  # port -> the descriptor holding its lock
_HOLDING = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, and that no other process's
    ``free_port`` hands out until ``release_port`` (or this process's end).

    The port is bound later, by a child process. Meanwhile the kernel may give the same
    number to another test process (pytest-xdist) picking a port of its own, and two
    sandboxes on one port cross their wires: one's simulators deliver to the other's
    bridge. A lock file per port, held from the pick on, keeps two pickers apart (the lock
    goes with the process, whatever ends it)."""
    PORT_LOCKS.mkdir(exist_ok=True)
    with _HOLDING:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port: int = sock.getsockname()[1]
            if port in _HELD:
                continue
            lock = os.open(PORT_LOCKS / str(port), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another process holds it: pick again
                os.close(lock)
                continue
            _HELD[port] = lock
            return port


def release_port(port: int) -> None:
    """Let other processes' ``free_port`` hand ``port`` out again."""
    with _HOLDING:
        lock = _HELD.pop(port, None)
    if lock is not None:
        os.close(lock)


def forgive_disconnects(app: Starlette) -> None:
    """A client gone before its request was whole (a bridge killed mid-call, as the fault run
    does) is answered with nothing: the service it stands for never saw that request, so
    nothing is recorded and no traceback is logged."""

    async def gone(request: Request, error: Exception) -> Response:
        return Response(status_code=499)

    app.add_exception_handler(ClientDisconnect, gone)


class Startable:
    """``start()``/``stop()`` as a context manager; a failed start cleans up what it began."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerThread(Startable):
    """An ASGI app served by uvicorn on `127.0.0.1` in a daemon thread with its own event loop."""

    def __init__(self, app: Any, *, port: int = 0, name: str = "sandbox-server") -> None:
        self._app = app
        self._port = port
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._bound_port = 0

    @property
    def port(self) -> int:
        """The port the server listens on (only valid once started)."""
        if not self._bound_port:
            raise RuntimeError("server not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. `http://127.0.0.1:54321`."""
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and block until the server accepts connections."""
        if self.running:
            return
        # Binding the socket here (port 0 = kernel picks) avoids the race of
        # picking a free port and binding it later.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this; without it Nagle plus delayed ACKs add ~40 ms to
        # every keep-alive response (headers and body are written separately).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((HOST, self._port))
        sock.listen(128)
        self._sock = sock
        self._bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            host=HOST,
            port=self._bound_port,
            log_config=None,  # never reconfigure the host process' logging
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            timeout_graceful_shutdown=2,
            # httpx drops a connection idle for 5 s, and so does uvicorn by default: a request
            # sent just as the server closes fails without an answer, which the bridge must
            # take (and takes) as an unknown outcome. A simulator outlasts its clients, so that
            # a test meets that only when it asks for it.
            timeout_keep_alive=60,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=self._name, daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._name} failed to start")
            time.sleep(0.005)

    @staticmethod
    def _run(server: uvicorn.Server, sock: socket.socket) -> None:
        # uvicorn exits the process when the app fails to start; here only the thread ends,
        # and start() reports it.
        with contextlib.suppress(SystemExit):
            asyncio.run(server.serve(sockets=[sock]))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask uvicorn to shut down, wait for the thread and release the socket."""
        server, thread, sock = self._server, self._thread, self._sock
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout)
        if sock is not None:
            sock.close()
        self._server = self._thread = self._sock = None
        self._bound_port = 0


class ServedApp(Startable):
    """A simulator's ASGI ``app`` served on loopback, plus the client it sends requests with."""

    app: Any
    _server_name = "sandbox-server"

    def _init_serving(self, port: int) -> None:
        self._port = port
        self._server: ServerThread | None = None
        self._sender = SyncSender()

    def start(self) -> None:
        """Start serving on 127.0.0.1; blocks until it accepts connections."""
        if self._server is None:
            server = ServerThread(self.app, port=self._port, name=self._server_name)
            server.start()
            self._server = server

    def stop(self) -> None:
        """Stop serving and close the client used for outgoing requests."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._sender.close()

    def _root_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return self._server.url
