from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from sandbox import ServerThread, free_port


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
