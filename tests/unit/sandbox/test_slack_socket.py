"""Socket Mode in the Slack simulator: the protocol by hand, then a real Bolt app on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond, AsyncSay
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackSimulator
from tests.unit.sandbox.conftest import SLACK_APP_TOKEN, SLACK_SECRET, SLACK_TOKEN

CHANNEL = "C0SUPPORT"
MODAL = {
    "type": "modal",
    "callback_id": "wa_template",
    "title": {"type": "plain_text", "text": "Send a template"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [],
}


class RawApp:
    """A bare Socket Mode client that reads frames and acks by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive(5)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        data: dict[str, Any] = json.loads(message.data)
        return data

    async def ack(self, envelope_id: str, payload: dict[str, Any] | None = None) -> None:
        ack: dict[str, Any] = {"envelope_id": envelope_id}
        if payload is not None:
            ack["payload"] = payload
        await self.ws.send_str(json.dumps(ack))

    async def quiet_for(self, seconds: float) -> bool:
        """Whether no frame arrives within `seconds`."""
        try:
            await self.ws.receive(seconds)
        except TimeoutError:
            return True
        return False


async def _connections_url(sim: SlackSimulator) -> str:
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=sim.url)
    opened = await client.apps_connections_open(app_token=SLACK_APP_TOKEN)
    return str(opened["url"])


@asynccontextmanager
async def raw_app(sim: SlackSimulator, url: str | None = None) -> AsyncIterator[RawApp]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url or await _connections_url(sim)) as ws,
    ):
        message = await ws.receive(5)
        yield RawApp(ws, json.loads(message.data))


@asynccontextmanager
async def connected(app: AsyncApp, client: AsyncWebClient) -> AsyncIterator[None]:
    """Bolt's own Socket Mode handler, connected to the simulator for the block."""
    handler = AsyncSocketModeHandler(app, SLACK_APP_TOKEN, web_client=client)
    await handler.connect_async()
    try:
        yield
    finally:
        await handler.close_async()


async def eventually(predicate: Callable[[], bool], within: float = 20) -> bool:
    """Poll without blocking the event loop the app runs on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# -- apps.connections.open -----------------------------------------------------------------


async def test_connections_open_takes_only_the_app_token(slack_socket: SlackSimulator) -> None:
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack_socket.url)
    opened = await client.apps_connections_open(app_token=SLACK_APP_TOKEN)
    assert opened["url"].startswith("ws://127.0.0.1:")
    assert "/link/?ticket=" in opened["url"] and "app_id=ASIMAPP" in opened["url"]
    assert opened.headers["x-oauth-scopes"] == "connections:write"
    for token, error in [(SLACK_TOKEN, "not_allowed_token_type"), ("xapp-wrong", "invalid_auth")]:
        with pytest.raises(SlackApiError) as info:
            await client.apps_connections_open(app_token=token)
        assert info.value.response["error"] == error
    app_level = AsyncWebClient(token=SLACK_APP_TOKEN, base_url=slack_socket.url)
    with pytest.raises(SlackApiError) as info:
        await app_level.chat_postMessage(channel=CHANNEL, text="x")
    assert info.value.response["error"] == "not_allowed_token_type"
    assert [c.error for c in slack_socket.calls("apps.connections.open")] == [
        None,
        "not_allowed_token_type",
        "invalid_auth",
    ]


def test_socket_mode_needs_an_app_token() -> None:
    with pytest.raises(ValueError, match="app_token"):
        SlackSimulator(bot_token="xoxb-x", signing_secret="s", socket_mode=True)
    sim = SlackSimulator(bot_token="xoxb-x", signing_secret="s")
    sim.socket_mode = True
    with sim, pytest.raises(RuntimeError, match="app_token"):
        sim.agent_post(CHANNEL, "x")


# -- the protocol, by hand -----------------------------------------------------------------


async def test_hello_envelope_and_ack(slack_socket: SlackSimulator) -> None:
    url = await _connections_url(slack_socket)
    async with raw_app(slack_socket, url) as app:
        assert app.hello["type"] == "hello"
        assert app.hello["num_connections"] == 1
        assert app.hello["connection_info"] == {"app_id": "ASIMAPP"}
        assert set(app.hello["debug_info"]) >= {"host", "approximate_connection_time"}
        [connection] = slack_socket.socket_connections()
        assert connection.is_open

        delivery = asyncio.create_task(asyncio.to_thread(slack_socket.agent_post, CHANNEL, "hi"))
        envelope = await app.receive()
        assert envelope["type"] == "events_api"
        assert envelope["accepts_response_payload"] is False
        assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
        callback = envelope["payload"]
        assert callback["type"] == "event_callback" and callback["event"]["text"] == "hi"
        await app.ack(envelope["envelope_id"])
        delivered = await delivery

        assert delivered.status == 200 and delivered.payload == callback
        assert delivered.envelope is not None and delivered.envelope.acked
        [recorded] = slack_socket.envelopes()
        assert recorded.envelope_id == envelope["envelope_id"]
        assert recorded.acks == ({"envelope_id": envelope["envelope_id"]},)
        assert recorded.attempts == (0,)
        assert slack_socket.events() == [delivered]

        # A ticket is good for one connection.
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with raw_app(slack_socket, url):
                pass
    assert await eventually(lambda: not slack_socket.socket_connections()[0].is_open)


async def test_slash_command_and_interactivity_envelopes(slack_socket: SlackSimulator) -> None:
    async with raw_app(slack_socket) as app:
        command = asyncio.create_task(asyncio.to_thread(slack_socket.slash_command, "/wa", "x"))
        envelope = await app.receive()
        assert envelope["type"] == "slash_commands"
        assert envelope["accepts_response_payload"] is True
        assert "retry_attempt" not in envelope
        fields = envelope["payload"]
        assert (fields["command"], fields["text"], fields["user_id"]) == ("/wa", "x", "UAGENT1")
        assert fields["response_url"] and fields["trigger_id"]
        await app.ack(envelope["envelope_id"], {"text": "3 templates"})
        answer = await command
        assert answer.status_code == 200
        assert answer.json() == {"text": "3 templates"} == answer.payload
        assert answer.envelope is not None
        assert answer.envelope.ack_payload == {"text": "3 templates"}

        shortcut = asyncio.create_task(
            asyncio.to_thread(
                slack_socket.message_shortcut,
                callback_id="wa_send_template",
                channel=CHANNEL,
                message_ts="1.000001",
                user="UAGENT1",
            )
        )
        envelope = await app.receive()
        assert envelope["type"] == "interactive"
        assert envelope["accepts_response_payload"] is False
        assert envelope["payload"]["type"] == "message_action"
        await app.ack(envelope["envelope_id"])
        answer = await shortcut
        assert (answer.status, answer.text, answer.payload) == (200, "", None)


async def test_unacked_event_is_redelivered_once(slack_socket: SlackSimulator) -> None:
    slack_socket.socket_ack_timeout = 0.8
    async with raw_app(slack_socket) as app:
        delivery = asyncio.create_task(asyncio.to_thread(slack_socket.agent_post, CHANNEL, "hi"))
        first = await app.receive()
        again = await app.receive()
        assert again["envelope_id"] == first["envelope_id"]
        assert again["payload"] == first["payload"]
        assert (again["retry_attempt"], again["retry_reason"]) == (1, "timeout")
        assert await app.quiet_for(0.3)  # once, not more
        delivered = await delivery
        assert delivered.status == 0
        [envelope] = slack_socket.envelopes()
        assert envelope.attempts == (0, 1) and not envelope.acked

        # Slack never retries a slash command: the user sees an error instead.
        answer = await asyncio.to_thread(slack_socket.slash_command, "/wa", "x")
        assert answer.status == 0 and answer.payload is None
        assert (await app.receive())["type"] == "slash_commands"
        assert await app.quiet_for(0.3)


async def test_late_ack_of_the_retry_counts(slack_socket: SlackSimulator) -> None:
    async with raw_app(slack_socket) as app:
        delivery = asyncio.create_task(asyncio.to_thread(slack_socket.agent_post, CHANNEL, "hi"))
        await app.receive()
        retry = await app.receive()
        await app.ack(retry["envelope_id"])
        delivered = await delivery
    assert delivered.status == 200
    assert delivered.envelope is not None and delivered.envelope.attempts == (0, 1)


async def test_redeliver_sets_retry_fields(slack_socket: SlackSimulator) -> None:
    async with raw_app(slack_socket) as app:
        first = asyncio.create_task(asyncio.to_thread(slack_socket.agent_post, CHANNEL, "hi"))
        original = await app.receive()
        await app.ack(original["envelope_id"])
        event = await first
        again = asyncio.create_task(asyncio.to_thread(slack_socket.redeliver, event, 2))
        retry = await app.receive()
        await app.ack(retry["envelope_id"])
        assert (await again).status == 200
    assert retry["payload"] == original["payload"]
    assert (retry["retry_attempt"], retry["retry_reason"]) == (2, "http_timeout")


async def test_bot_posts_are_echoed_over_the_socket(slack_socket: SlackSimulator) -> None:
    slack_socket.echo_bot_messages = True
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack_socket.url)
    async with raw_app(slack_socket) as app:
        posted = await client.chat_postMessage(channel=CHANNEL, text="from the bridge")
        envelope = await app.receive()
        event = envelope["payload"]["event"]
        assert (event["ts"], event["bot_id"]) == (posted["ts"], "BBOT")
        await app.ack(envelope["envelope_id"])
        assert await eventually(lambda: [e.status for e in slack_socket.events()] == [200])


async def test_an_app_that_connects_late_gets_the_envelope(slack_socket: SlackSimulator) -> None:
    delivery = asyncio.create_task(asyncio.to_thread(slack_socket.agent_post, CHANNEL, "early"))
    await asyncio.sleep(0.1)
    async with raw_app(slack_socket) as app:
        envelope = await app.receive()
        await app.ack(envelope["envelope_id"])
        assert (await delivery).status == 200


async def test_view_submission_answers_change_the_modal(slack_socket: SlackSimulator) -> None:
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack_socket.url)
    root = (await client.views_open(trigger_id="1.2.a", view=MODAL))["view"]
    pushed = (await client.views_push(trigger_id="1.2.b", view=MODAL))["view"]
    assert (pushed["root_view_id"], pushed["previous_view_id"]) == (root["id"], root["id"])

    async def submit(view: dict[str, Any], answer: dict[str, Any] | None) -> None:
        submitted = asyncio.create_task(
            asyncio.to_thread(slack_socket.view_submission, view, "UAGENT1")
        )
        envelope = await app.receive()
        assert envelope["type"] == "interactive"
        assert envelope["accepts_response_payload"] is True
        await app.ack(envelope["envelope_id"], answer)
        assert (await submitted).payload == answer

    async with raw_app(slack_socket) as app:
        errors = {"response_action": "errors", "errors": {"lang": "Pick one"}}
        await submit(pushed, errors)
        updated = MODAL | {"callback_id": "updated"}
        await submit(pushed, {"response_action": "update", "view": updated})
        await submit(pushed, {"response_action": "push", "view": MODAL | {"callback_id": "third"}})
        # Three deep: one more push is refused.
        with pytest.raises(SlackApiError) as info:
            await client.views_push(trigger_id="1.2.c", view=MODAL)
        assert info.value.response["error"] == "push_limit_reached"
        third = slack_socket.views()[-1]["view"]
        await submit(third, None)  # plain ack: the submitted view closes
        await client.views_push(trigger_id="1.2.d", view=MODAL)  # room again
        await submit(root, {"response_action": "clear"})
        with pytest.raises(SlackApiError) as info:
            await client.views_push(trigger_id="1.2.e", view=MODAL)
        assert info.value.response["error"] == "invalid_trigger_id"

    log = [(v["method"], v.get("response_action"), v["view"]["id"]) for v in slack_socket.views()]
    assert log == [
        ("views.open", None, root["id"]),
        ("views.push", None, pushed["id"]),
        ("response_action", "update", pushed["id"]),
        ("response_action", "push", third["id"]),
        ("views.push", None, log[-1][2]),
    ]
    assert slack_socket.views()[2]["view"]["callback_id"] == "updated"
    assert slack_socket.views()[2]["view"]["previous_view_id"] == root["id"]
    assert third["previous_view_id"] == pushed["id"]


# -- a real Bolt app -----------------------------------------------------------------------


async def test_bolt_app_over_socket_mode(slack_socket: SlackSimulator) -> None:
    sim = slack_socket
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=sim.url)
    app = AsyncApp(client=client, signing_secret=SLACK_SECRET)

    @app.event("message")
    async def on_message(event: dict[str, Any], say: AsyncSay) -> None:
        await say(text=f"got: {event['text']}", thread_ts=event["thread_ts"])

    @app.command("/wa")
    async def on_wa(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack(f"working on {command['text']}")
        await respond(f"done: {command['text']}")

    @app.options("template")
    async def on_options(ack: AsyncAck, payload: dict[str, Any]) -> None:
        option = {"text": {"type": "plain_text", "text": "Order update"}, "value": payload["value"]}
        await ack(options=[option])

    @app.view("wa_template")
    async def on_submit(ack: AsyncAck) -> None:
        await ack(response_action="errors", errors={"lang": "Pick a language"})

    parent = (await client.chat_postMessage(channel=CHANNEL, text="Ada"))["ts"]
    async with connected(app, client):
        delivered = await asyncio.to_thread(
            sim.agent_reply, channel=CHANNEL, thread_ts=parent, text="Hello Ada"
        )
        assert delivered.status == 200
        thread = ["Hello Ada", "got: Hello Ada"]
        assert await eventually(lambda: [m.text for m in sim.thread(CHANNEL, parent)] == thread), [
            m.text for m in sim.thread(CHANNEL, parent)
        ]

        answer = await asyncio.to_thread(sim.slash_command, "/wa", "templates")
        assert answer.status_code == 200 and answer.json() == {"text": "working on templates"}
        assert await eventually(
            lambda: [r.get("text") for r in sim.responses()] == ["done: templates"]
        )

        view = (await client.views_open(trigger_id="1.2.abc", view=MODAL))["view"]
        options = await asyncio.to_thread(
            sim.block_suggestion,
            user="UAGENT1",
            view=view,
            action_id="template",
            block_id="tpl",
            value="ord",
        )
        assert options.json()["options"][0]["value"] == "ord"
        submitted = await asyncio.to_thread(sim.view_submission, view, "UAGENT1")
        assert submitted.json() == {
            "response_action": "errors",
            "errors": {"lang": "Pick a language"},
        }

    envelopes = sim.envelopes()
    assert [e.type for e in envelopes] == [
        "events_api",
        "slash_commands",
        "interactive",
        "interactive",
    ]
    assert all(e.acked for e in envelopes)
    assert envelopes[1].ack_payload == {"text": "working on templates"}
    assert [c.method for c in sim.calls("apps.connections.open")] == ["apps.connections.open"]
    assert await eventually(lambda: not any(c.is_open for c in sim.socket_connections()))


async def test_bolt_sees_the_retry_of_an_event_it_left_unacked(
    slack_socket: SlackSimulator,
) -> None:
    slack_socket.socket_ack_timeout = 0.8
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack_socket.url)
    app = AsyncApp(client=client, signing_secret=SLACK_SECRET)
    retries: list[str | None] = []

    @app.middleware
    async def record(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Any]
    ) -> BoltResponse:
        retries.append(req.headers.get("x-slack-retry-num", [None])[0])
        response: BoltResponse = await next()
        return response

    # No `message` listener: Bolt answers 404 and so sends no ack.
    async with connected(app, client):
        delivered = await asyncio.to_thread(slack_socket.agent_post, CHANNEL, "anyone?")
        assert delivered.status == 0
        assert await eventually(lambda: len(retries) == 2)
    assert retries == ["0", "1"]
    [envelope] = slack_socket.envelopes()
    assert envelope.attempts == (0, 1) and not envelope.acked


async def test_bolt_reconnects_after_disconnect(slack_socket: SlackSimulator) -> None:
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack_socket.url)
    app = AsyncApp(client=client, signing_secret=SLACK_SECRET)
    heard: list[str] = []

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        heard.append(event["text"])

    def open_flags() -> list[bool]:
        return [c.is_open for c in slack_socket.socket_connections()]

    async with connected(app, client):
        assert await asyncio.to_thread(slack_socket.disconnect_sockets) == 1
        # The app asks for a new URL, connects, and closes the old link itself.
        assert await eventually(lambda: open_flags() == [False, True])
        delivered = await asyncio.to_thread(slack_socket.agent_post, CHANNEL, "still there?")
        assert delivered.status == 200
        assert await eventually(lambda: heard == ["still there?"])
    assert len(slack_socket.calls("apps.connections.open")) == 2
