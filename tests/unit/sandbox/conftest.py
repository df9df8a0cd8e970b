"""Fixtures for the simulator tests: a recording HTTP receiver standing in for the bridge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox import MetaSimulator, ServerThread, SlackSimulator
from sandbox.meta_templates import DEFAULT_TEMPLATES

META_TOKEN = "EAAG-test-token"
META_SECRET = "meta-app-secret"
SLACK_TOKEN = "xoxb-test-token"
SLACK_SECRET = "slack-signing-secret"


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A tiny app on loopback that records every POST and answers 200 (or a queued status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._statuses: list[int] = []
        app = FastAPI()

        @app.post("/{path:path}")
        async def record(request: Request, path: str) -> Response:
            body = await request.body()
            with self._lock:
                self._requests.append(
                    Received("/" + path, {k.lower(): v for k, v in request.headers.items()}, body)
                )
                status = self._statuses.pop(0) if self._statuses else 200
            return JSONResponse({"received": True}, status_code=status)

        self.server = ServerThread(app, name="receiver")

    @property
    def url(self) -> str:
        return self.server.url + "/hook"

    def answer_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, then 200 again."""
        with self._lock:
            self._statuses.extend(statuses)

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()


# Servers are shared per module and reset around each test: starting and stopping uvicorn
# costs about 0.2 s, which would dominate the run.


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    rec = Receiver()
    with rec.server:
        yield rec


@pytest.fixture
def receiver(receiver_server: Receiver) -> Iterator[Receiver]:
    receiver_server.clear()
    yield receiver_server
    receiver_server.clear()


@pytest.fixture(scope="module")
def meta_server(receiver_server: Receiver) -> Iterator[MetaSimulator]:
    sim = MetaSimulator(access_token=META_TOKEN, app_secret=META_SECRET)
    with sim:
        yield sim


@pytest.fixture
def meta(meta_server: MetaSimulator, receiver: Receiver) -> Iterator[MetaSimulator]:
    sim = meta_server
    sim.webhook_url = receiver.url
    sim.auto_statuses = ("sent", "delivered", "read")
    sim.status_delay = 0.01
    sim.check_templates = True
    sim.retry_backoff = 0.01
    sim.set_templates(list(DEFAULT_TEMPLATES))
    yield sim
    assert sim.wait_idle(5)
    sim.reset()


@pytest.fixture(scope="module")
def slack_server(receiver_server: Receiver) -> Iterator[SlackSimulator]:
    sim = SlackSimulator(bot_token=SLACK_TOKEN, signing_secret=SLACK_SECRET)
    with sim:
        yield sim


@pytest.fixture
def slack(slack_server: SlackSimulator, receiver: Receiver) -> Iterator[SlackSimulator]:
    sim = slack_server
    sim.events_url = receiver.url
    sim.echo_bot_messages = False  # tests that want echoes turn them on
    sim.echo_bot_reactions = False
    yield sim
    assert sim.wait_idle(5)
    sim.reset()


# -- Socket Mode: a simulator delivering over the WebSocket instead of HTTP --------------------

SLACK_APP_TOKEN = "xapp-1-A0SIM-test-token"


@pytest.fixture(scope="module")
def slack_socket_server() -> Iterator[SlackSimulator]:
    sim = SlackSimulator(
        bot_token=SLACK_TOKEN,
        signing_secret=SLACK_SECRET,
        app_token=SLACK_APP_TOKEN,
        socket_mode=True,
    )
    with sim:
        yield sim


@pytest.fixture
def slack_socket(slack_socket_server: SlackSimulator) -> Iterator[SlackSimulator]:
    """A Socket Mode simulator with short ack and retry delays; no app is connected yet."""
    sim = slack_socket_server
    sim.socket_mode = True
    sim.echo_bot_messages = False  # tests that want echoes turn them on
    sim.echo_bot_reactions = False
    sim.socket_ack_timeout = 2.0
    sim.socket_retry_delay = 0.2
    yield sim
    assert sim.wait_idle(5)
    sim.reset()
