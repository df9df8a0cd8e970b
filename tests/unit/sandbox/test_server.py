from __future__ import annotations

import fcntl
import multiprocessing
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from sandbox import ServerThread, free_port, release_port
from sandbox.harness import BridgeProcess
from sandbox.server import PORT_LOCKS


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def _pick_in_another_process(port: int, answer: multiprocessing.Queue[bool]) -> None:
    """Whether another process's ``free_port`` could hand out ``port`` now."""
    lock = os.open(PORT_LOCKS / str(port), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        answer.put(False)
    else:
        answer.put(True)
    finally:
        os.close(lock)


def _could_another_process_pick(port: int) -> bool:
    spawn = multiprocessing.get_context("spawn")
    answer: multiprocessing.Queue[bool] = spawn.Queue()
    other = spawn.Process(target=_pick_in_another_process, args=(port, answer))
    other.start()
    other.join(timeout=30)
    return answer.get(timeout=5)


def test_a_port_handed_out_is_kept_from_other_processes_until_released() -> None:
    """Two test processes given one port by the kernel would cross their sandboxes' wires."""
    port = free_port()
    try:
        assert not _could_another_process_pick(port)
    finally:
        release_port(port)
    assert _could_another_process_pick(port)


def test_a_sandbox_bridge_refuses_a_port_where_another_bridge_answers() -> None:
    """Another test's bridge on this port answers ``/readyz`` too, but not this verify token."""
    other = FastAPI()

    @other.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @other.get("/webhooks/whatsapp")
    async def handshake() -> PlainTextResponse:
        return PlainTextResponse("verification failed", status_code=403)

    with ServerThread(other) as server:
        bridge = BridgeProcess(
            env={"META_VERIFY_TOKEN": "mine"}, port=server.port, workdir=Path("unused")
        )
        with pytest.raises(RuntimeError, match="another process answers"):
            bridge.wait_ready(timeout=10)


def test_serves_until_stopped() -> None:
    server = ServerThread(_app())
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith(str(server.port))
        response = httpx.get(server.url + "/ping", trust_env=False)
        assert response.json() == {"pong": "yes"}
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(RuntimeError):
        _ = server.url


def test_context_manager_and_fixed_port() -> None:
    port = free_port()
    with ServerThread(_app(), port=port) as server:
        assert server.port == port
        assert httpx.get(server.url + "/ping", trust_env=False).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/ping", trust_env=False)


def test_start_fails_loudly_when_the_app_cannot_start() -> None:
    @asynccontextmanager
    async def broken(_: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("boom")
        yield

    server = ServerThread(FastAPI(lifespan=broken))
    with pytest.raises(RuntimeError, match="failed to start"):
        server.start()
    assert not server.running
