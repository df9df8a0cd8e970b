"""A round-robin HTTP load balancer on loopback, in front of several ``wabridge serve --role web``.

Each *request* goes to the next backend in turn, as an HTTP load balancer does. Spreading
connections would not do: the simulators keep one connection alive for their webhooks, so
every customer message would reach the same process. The balancer speaks just enough
HTTP/1.1 for the simulators and the bridge: request bodies framed by ``Content-Length``, and
each request forwarded on a fresh upstream connection with ``Connection: close``, so that a
response ends where the upstream closes it and is passed on as it comes, framing and all.

A backend that refuses the connection is skipped for that request (the next one in turn
takes it); when none accepts, the client gets ``502``. ``served()`` counts the requests each
backend answered, so a test can check that every process had its share.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Sequence
from typing import BinaryIO, Final

from sandbox.server import Startable

__all__ = ["Balancer"]

#: Longest request line or header line taken, and most header lines per request.
MAX_LINE: Final = 65536
MAX_HEADERS: Final = 200
#: Headers about the client's connection, which the balancer decides for itself.
_HOP_BY_HOP: Final = frozenset({b"connection", b"keep-alive", b"proxy-connection"})
_BAD_GATEWAY: Final = (
    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 11\r\nconnection: close\r\n\r\nbad gateway"
)
_NOT_SUPPORTED: Final = (
    b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 15\r\nconnection: close\r\n\r\n"
    b"not implemented"
)


class _RefusedError(Exception):
    """What the balancer cannot forward; the client gets the answer and is disconnected."""

    def __init__(self, answer: bytes) -> None:
        super().__init__()
        self.answer = answer


class _Request:
    """One request read off a client connection: its bytes for the upstream, and its ``key``."""

    def __init__(self, head: list[bytes], body: bytes) -> None:
        method, target, version = [*head[0].split(b" ", 2), b"", b""][:3]
        self.key = f"{method.decode('latin-1')} {target.split(b'?')[0].decode('latin-1')}"
        self.head_only = method == b"HEAD"
        fields = [_split(line) for line in head[1:]]
        tokens = {
            token.strip().lower()
            for name, value in fields
            if name == b"connection"
            for token in value.split(b",")
        }
        self.keep_alive = (
            b"close" not in tokens if version.strip() == b"HTTP/1.1" else b"keep-alive" in tokens
        )
        kept = [line for line in head[1:] if _split(line)[0] not in _HOP_BY_HOP]
        self.raw = b"".join([head[0], *kept, b"Connection: close\r\n\r\n", body])


def _split(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


def _read_request(reader: BinaryIO) -> _Request | None:
    """The next request on the connection, or None when the client closed it."""
    line = reader.readline(MAX_LINE)
    while line in (b"\r\n", b"\n"):  # stray line breaks between requests are allowed
        line = reader.readline(MAX_LINE)
    if not line:
        return None
    head = [line]
    while True:
        line = reader.readline(MAX_LINE)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        head.append(line)
        if len(head) > MAX_HEADERS:
            raise _RefusedError(_NOT_SUPPORTED)
    fields = dict(_split(line) for line in head[1:])
    if fields.get(b"transfer-encoding", b"identity").lower() != b"identity":
        raise _RefusedError(_NOT_SUPPORTED)  # the simulators always send Content-Length
    length = int(fields.get(b"content-length", b"0") or b"0")
    body = reader.read(length) if length else b""
    if len(body) != length:
        return None
    return _Request(head, body)


class Balancer(Startable):
    """Listens on ``127.0.0.1:port``; each request goes to the next of ``backends`` in turn."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends = tuple(backends)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._turn = 0
        self._served = [Counter[str]() for _ in self.backends]
        self._open: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Accept connections (once: starting again changes nothing)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._accept, name="balancer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def served(self) -> list[Counter[str]]:
        """Per backend, in the order given: requests answered, by ``"METHOD /path"``."""
        with self._lock:
            return [Counter(counts) for counts in self._served]

    # -- the work ------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        # Nagle plus delayed ACKs would add ~40 ms to each request (see sandbox/server.py).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.add(sock)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        try:
            with client.makefile("rb") as reader:
                keep_alive = True
                while keep_alive:
                    request = _read_request(reader)
                    if request is None:
                        return
                    keep_alive = self._forward(request, client)
        except _RefusedError as refused:
            with contextlib.suppress(OSError):
                client.sendall(refused.answer)
        except (OSError, ValueError):
            pass  # the client or a backend went away mid-request: so does this connection
        finally:
            self._forget(client)

    def _connect(self) -> tuple[int, socket.socket]:
        with self._lock:
            first = self._turn
            self._turn = (first + 1) % len(self.backends)
        for step in range(len(self.backends)):
            index = (first + step) % len(self.backends)
            try:
                upstream = socket.create_connection(self.backends[index], timeout=5)
            except OSError:
                continue
            upstream.settimeout(60)
            return index, upstream
        raise _RefusedError(_BAD_GATEWAY)

    def _forward(self, request: _Request, client: socket.socket) -> bool:
        """Send one request to the next backend and its response back; whether the client's
        connection stays open for another."""
        index, upstream = self._connect()
        self._track(upstream)
        try:
            upstream.sendall(request.raw)
            with upstream.makefile("rb") as answer:
                status = answer.readline(MAX_LINE)
                head: list[bytes] = []
                while (line := answer.readline(MAX_LINE)) not in (b"\r\n", b"\n", b""):
                    head.append(line)
                if not status or not line:
                    raise _RefusedError(_BAD_GATEWAY)
                with self._lock:  # counted before the client can see the answer
                    self._served[index][request.key] += 1
                names = {_split(line)[0] for line in head}
                code = status.split(b" ", 2)[1] if status.count(b" ") else b""
                bodiless = request.head_only or code in (b"204", b"304") or code.startswith(b"1")
                framed = bodiless or bool(names & {b"content-length", b"transfer-encoding"})
                keep_alive = request.keep_alive and framed
                kept = [line for line in head if _split(line)[0] not in _HOP_BY_HOP]
                ending = b"\r\n" if keep_alive else b"connection: close\r\n\r\n"
                client.sendall(b"".join([status, *kept, ending]))
                while chunk := answer.read1(65536):
                    client.sendall(chunk)
        finally:
            self._forget(upstream)
        return keep_alive
