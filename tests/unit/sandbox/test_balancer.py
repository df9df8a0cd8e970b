from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from sandbox import ServerThread, free_port
from sandbox.balancer import Balancer


def _app(name: str) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        return {"backend": name, "body": (await request.body()).decode()}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for part in (b"one ", b"two ", name.encode()):
                yield part

        return StreamingResponse(parts(), media_type="text/plain")

    return app


@pytest.fixture(scope="module")
def backends() -> Iterator[list[ServerThread]]:
    servers = [ServerThread(_app(name), name=name) for name in ("a", "b")]
    for server in servers:
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _balancer(ports: list[int]) -> Balancer:
    return Balancer([("127.0.0.1", port) for port in ports])


def test_requests_on_one_kept_alive_connection_take_turns(backends: list[ServerThread]) -> None:
    with (
        _balancer([s.port for s in backends]) as balancer,
        httpx.Client(base_url=balancer.url, trust_env=False) as client,
    ):
        answers = [client.post("/echo", content=f"n{n}").json() for n in range(4)]
        assert [a["backend"] for a in answers] == ["a", "b", "a", "b"]
        assert [a["body"] for a in answers] == ["n0", "n1", "n2", "n3"]
        assert [served["POST /echo"] for served in balancer.served()] == [2, 2]


def test_a_streamed_answer_arrives_whole(backends: list[ServerThread]) -> None:
    with (
        _balancer([s.port for s in backends]) as balancer,
        httpx.Client(base_url=balancer.url, trust_env=False) as client,
    ):
        assert [client.get("/stream").text for _ in range(2)] == ["one two a", "one two b"]


def test_a_backend_that_is_down_is_skipped_and_none_up_is_a_502(
    backends: list[ServerThread],
) -> None:
    down = free_port()
    with (
        _balancer([down, backends[1].port]) as balancer,
        httpx.Client(base_url=balancer.url, trust_env=False) as client,
    ):
        assert [client.post("/echo").json()["backend"] for _ in range(3)] == ["b"] * 3
        assert balancer.served()[0] == {}
    with (
        _balancer([down]) as balancer,
        httpx.Client(base_url=balancer.url, trust_env=False) as client,
    ):
        assert client.post("/echo").status_code == 502
