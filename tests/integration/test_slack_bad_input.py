"""Slack's requests at their edges, over the real web app (``build``, as ``wabridge serve``
wires it) with a real signing secret: a request signed more than five minutes ago (or ahead)
is refused and has no effect; unsigned or unreadable requests are answered, never raised;
events and payloads with fields missing are acked and do nothing harmful, and the good reply
that follows each of them still reaches the customer's queue."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import text

from sandbox.server import free_port
from sandbox.slack_events import signed_headers
from sandbox.slack_sim import SlackSimulator
from slack_app.http import MAX_REQUEST_AGE
from slack_app.ids import (
    COMMAND,
    OPEN_TEMPLATE_MODAL,
    RETRY_SEND,
    SEND_TEMPLATE_SHORTCUT,
    TEMPLATE_MODAL,
    TEMPLATE_PICK,
)
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeClock
from tests.integration.world import CHANNEL, World
from wabridge.bootstrap import Bridge, build
from wabridge.settings import load_settings

SIGNING_SECRET = "slack-signing-secret-for-tests"
TOKEN = "xoxb-bad-input-token"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def sim() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN, signing_secret=SIGNING_SECRET) as simulator:
        yield simulator


@dataclass
class Web:
    bridge: Bridge
    client: httpx.AsyncClient
    uow: SqlUnitOfWorkFactory
    thread: str
    good: int = 0

    async def post(
        self, body: bytes, content_type: str, *, at: float | None = None
    ) -> httpx.Response:
        stamp = int(time.time() if at is None else at)
        headers = signed_headers(SIGNING_SECRET, body, content_type, timestamp=stamp)
        return await self.client.post("/slack/events", content=body, headers=headers)

    async def event(self, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
        envelope = {
            "type": "event_callback",
            "team_id": "T0SIM",
            "api_app_id": "A1",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
        return await self.post(json.dumps(envelope).encode(), JSON, **kwargs)

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, FORM)

    def reply(self, text: str) -> dict[str, Any]:
        self.good += 1
        return {
            "type": "message",
            "channel": CHANNEL,
            "user": "UAGENT",
            "text": text,
            "ts": f"{int(T0.timestamp())}.{self.good:06d}",
            "thread_ts": self.thread,
        }

    async def queued_replies(self) -> list[str]:
        async with self.uow.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT content FROM messages WHERE direction = 'outbound' ORDER BY id")
            )
            return [
                json.loads(r[0])["text"] if isinstance(r[0], str) else r[0]["text"] for r in rows
            ]

    async def good_reply_arrives(self) -> None:
        """A good reply after whatever came before is still queued for the customer."""
        text = f"good {self.good + 1}"
        assert (await self.event(self.reply(text))).status_code == 200
        deadline = time.monotonic() + 30  # generous: the machine may be busy
        while time.monotonic() < deadline:
            if text in await self.queued_replies() and self.bridge.slack.activity.running == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{text!r} never queued")


@pytest.fixture
async def web(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    uow_factory: SqlUnitOfWorkFactory,
    sim: SlackSimulator,
) -> AsyncIterator[Web]:
    sim.reset()
    world = World.build(uow_factory)  # a conversation with its thread, as the inbox made it
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Hello", at=T0)))
    await world.drain()
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": database_url,
        "META_ACCESS_TOKEN": "EAAG-bad-input",
        "META_APP_SECRET": "bad-input-app-secret",
        "META_VERIFY_TOKEN": "verify",
        "META_PHONE_NUMBER_ID": payloads.PHONE_NUMBER_ID,
        "META_API_BASE": f"http://127.0.0.1:{free_port()}",  # nothing listens: nothing is sent
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL_ID": CHANNEL,
        "SLACK_API_URL": sim.url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bridge = build(load_settings(), clock=FakeClock())
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        try:
            yield Web(bridge, client, uow_factory, await world.thread())
        finally:
            await bridge.aclose()


async def test_a_replayed_request_is_refused_and_a_fresh_one_taken(web: Web) -> None:
    now = time.time()
    for at in (now - MAX_REQUEST_AGE - 60, now + MAX_REQUEST_AGE + 60):
        response = await web.event(web.reply("replayed"), at=at)
        assert response.status_code == 401
    web.good = 0
    response = await web.event(web.reply("fresh"), at=now - 60)  # a minute late is fine
    assert response.status_code == 200
    await web.good_reply_arrives()
    assert await web.queued_replies() == ["fresh", "good 2"]


async def test_the_bridges_own_post_coming_back_is_acked_at_once_and_does_nothing(
    web: Web, sim: SlackSimulator
) -> None:
    sim.reset()  # the bridge has not answered a request yet: bolt has not checked its token
    echo = {**web.reply("posted by the bridge"), "user": sim.bot_user_id, "bot_id": sim.bot_id}
    response = await web.event(echo)
    assert (response.status_code, response.text) == (200, "")
    # Acked before bolt, which would have checked the token with Slack first.
    assert sim.calls("auth.test") == []
    await web.good_reply_arrives()
    assert sim.calls("auth.test") != []
    # Another bot's post does nothing either.
    other = {**web.reply("another app"), "user": "UOTHERBOT", "bot_id": "BOTHER"}
    assert (await web.event(other)).status_code == 200
    await web.good_reply_arrives()
    assert await web.queued_replies() == ["good 2", "good 4"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "1.5", "X-Slack-Signature": "v0=00"},
        {
            "X-Slack-Request-Timestamp": "١٢٣".encode(),
            "X-Slack-Signature": "v0=00",
        },  # digits, not ASCII
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"},
    ],
)
@pytest.mark.parametrize("body", [b"{not json", b"payload=%7Bnot", b"\xff\xfe", b"[1]", b""])
async def test_an_unsigned_request_is_401_whatever_its_body(
    web: Web, headers: dict[str, str | bytes], body: bytes
) -> None:
    response = await web.client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", JSON),
        (b"payload=%7Bnot", FORM),
        (b"\xff\xfe", FORM),
        (b"[1, 2]", JSON),
        (b'"text"', JSON),
    ],
)
async def test_a_signed_request_that_cannot_be_read_is_400(
    web: Web, body: bytes, content_type: str
) -> None:
    assert (await web.post(body, content_type)).status_code == 400
    await web.good_reply_arrives()


def _missing_fields(web: Web) -> list[tuple[str, dict[str, Any]]]:
    """Requests as Slack might send them with fields left out, and what kind they are."""
    thread = web.thread
    reply = {
        "type": "message",
        "channel": CHANNEL,
        "user": "UAGENT",
        "text": "x",
        "ts": f"{int(T0.timestamp())}.900000",
        "thread_ts": thread,
    }
    without = [{k: v for k, v in reply.items() if k != key} for key in reply if key != "type"]
    events: list[dict[str, Any]] = [
        *without,
        {"type": "message"},
        {"type": "message", "bot_id": "BOTHER"},
        {"type": "message", "bot_id": ["not", "an", "id"], "subtype": 7},
        {"type": "message", "bot_id": "BOTHER", "subtype": "message_changed"},
        {"type": "message", "subtype": "message_changed", "channel": CHANNEL},
        {"type": "message", "subtype": "message_changed", "message": {"text": "y"}},
        {"type": "message", "subtype": "message_deleted", "channel": CHANNEL},
        {"type": "app_mention", "user": "UAGENT"},
        {"type": "app_mention"},
        {"type": "reaction_added", "user": "UAGENT", "reaction": "thumbsup"},
        {"type": "reaction_added", "user": "UAGENT", "item": {"type": "message"}},
        {"type": "reaction_removed"},
        {"type": "some_event_slack_adds_later", "channel": CHANNEL},
        {},
    ]
    interactions: list[dict[str, Any]] = [
        {"type": "block_actions", "user": {"id": "UAGENT"}, "actions": [{"action_id": RETRY_SEND}]},
        {"type": "block_actions", "actions": [{"action_id": RETRY_SEND, "value": "1"}]},
        {"type": "block_actions", "actions": [{"action_id": OPEN_TEMPLATE_MODAL}]},
        {"type": "block_actions", "actions": [{"action_id": TEMPLATE_PICK}]},
        {"type": "block_actions"},
        {"type": "view_submission", "view": {"type": "modal", "callback_id": TEMPLATE_MODAL}},
        {
            "type": "view_submission",
            "view": {"type": "modal", "callback_id": TEMPLATE_MODAL, "state": {}},
        },
        {
            "type": "view_submission",
            "view": {
                "type": "modal",
                "callback_id": TEMPLATE_MODAL,
                "private_metadata": "not json",
            },
        },
        {"type": "block_suggestion", "action_id": TEMPLATE_PICK, "value": "ord"},
        {"type": "message_action", "callback_id": SEND_TEMPLATE_SHORTCUT},
        {"type": "view_closed", "view": {"type": "modal", "callback_id": TEMPLATE_MODAL}},
    ]
    return [("event", e) for e in events] + [("interaction", i) for i in interactions]


async def test_payloads_with_missing_fields_are_acked_and_harmless(
    web: Web, caplog: pytest.LogCaptureFixture, sim: SlackSimulator
) -> None:
    caplog.set_level(logging.WARNING)
    for kind, payload in _missing_fields(web):
        caplog.clear()
        if kind == "event":
            response = await web.event(payload)
        else:
            response = await web.interaction(payload)
        assert response.status_code in (200, 404), (payload, response.text)
        # The good reply is queued once every listener before it has finished.
        await web.good_reply_arrives()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, (payload, [r.getMessage() for r in errors])
    commands = [
        {"command": COMMAND},
        {"command": COMMAND, "text": "status"},
        {"command": COMMAND, "text": "template +4915112345678 order_update"},
        {"command": COMMAND, "text": "new"},
    ]
    for fields in commands:
        caplog.clear()
        body = urlencode({**fields, "response_url": f"{sim.url[:-5]}/_sim/response_url/R1"})
        assert (await web.post(body.encode(), FORM)).status_code == 200
        await web.good_reply_arrives()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], fields
    await web.good_reply_arrives()
    # Only the good replies are on their way to the customer.
    assert await web.queued_replies() == [f"good {n}" for n in range(1, web.good + 1)]
