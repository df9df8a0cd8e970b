from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackSimulator
from sandbox.slack_sim import SCOPES
from tests.unit.sandbox.conftest import SLACK_SECRET, SLACK_TOKEN, Received, Receiver

CHANNEL = "C0SUPPORT"
TS = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def client(slack: SlackSimulator) -> AsyncWebClient:
    return AsyncWebClient(token=SLACK_TOKEN, base_url=slack.url)


@pytest.fixture
def sync_client(slack: SlackSimulator) -> WebClient:
    return WebClient(token=SLACK_TOKEN, base_url=slack.url)


def _verified(request: Received) -> bool:
    return SignatureVerifier(SLACK_SECRET).is_valid(
        body=request.body,
        timestamp=request.headers.get("x-slack-request-timestamp"),
        signature=request.headers.get("x-slack-signature"),
    )


def _form_payload(request: Received) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(parse_qs(request.body.decode())["payload"][0])
    return payload


# -- Web API through slack_sdk -------------------------------------------------------------


async def test_auth_test(client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert answer["user_id"] == "UBOT"
    assert answer["bot_id"] == "BBOT"
    assert answer["team_id"] == "T0SIM"
    assert "chat:write" in answer.headers["x-oauth-scopes"]


async def test_wrong_token_and_unknown_method(slack: SlackSimulator) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.url)
    with pytest.raises(SlackApiError) as info:
        await bad.chat_postMessage(channel=CHANNEL, text="x")
    assert info.value.response["error"] == "invalid_auth"
    good = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.url)
    with pytest.raises(SlackApiError) as info:
        await good.api_call("nothing.here")
    assert info.value.response["error"] == "unknown_method"
    assert slack.messages(CHANNEL) == []


async def test_post_and_reply_in_thread(client: AsyncWebClient, slack: SlackSimulator) -> None:
    metadata = {"event_type": "wa_conversation", "event_payload": {"wa_id": "49151"}}
    parent = await client.chat_postMessage(
        channel=CHANNEL,
        text="New conversation",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Ada*"}}],
        metadata=metadata,
        unfurl_links=False,
    )
    assert parent["channel"] == CHANNEL
    assert TS.match(parent["ts"])
    assert parent["message"]["bot_id"] == "BBOT"
    replies = [
        (await client.chat_postMessage(channel=CHANNEL, text=f"r{i}", thread_ts=parent["ts"]))["ts"]
        for i in range(3)
    ]
    assert replies == sorted(replies) and parent["ts"] < replies[0]

    thread = slack.thread(CHANNEL, parent["ts"])
    assert [m.text for m in thread] == ["r0", "r1", "r2"]
    assert all(m.thread_ts == parent["ts"] and m.user == "UBOT" for m in thread)
    [top] = slack.top_level(CHANNEL)
    assert top.metadata == metadata
    assert top.blocks is not None and top.blocks[0]["type"] == "section"

    listed = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"])
    assert [m["ts"] for m in listed["messages"]] == [parent["ts"], *replies]
    assert listed["messages"][0]["reply_count"] == 3
    assert "metadata" not in listed["messages"][0]
    with_meta = await client.conversations_replies(
        channel=CHANNEL, ts=parent["ts"], include_all_metadata=True
    )
    assert with_meta["messages"][0]["metadata"] == metadata
    paged = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"], limit=3)
    assert paged["has_more"] is True
    rest = await client.conversations_replies(
        channel=CHANNEL, ts=parent["ts"], cursor=paged["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in rest["messages"]] == [replies[2]]

    history = await client.conversations_history(channel=CHANNEL)
    assert [m["ts"] for m in history["messages"]] == [parent["ts"]]


async def test_post_errors(client: AsyncWebClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "C404", "text": "x"}, "channel_not_found"),
        ({"channel": CHANNEL}, "no_text"),
        ({"channel": CHANNEL, "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": CHANNEL, "text": "x", "metadata": {"x": 1}}, "invalid_metadata_format"),
    ]
    for kwargs, error in cases:
        with pytest.raises(SlackApiError) as info:
            # api_call: chat_postMessage itself warns about a missing text.
            await client.api_call("chat.postMessage", json=kwargs)
        assert info.value.response["error"] == error


async def test_channels_by_name(client: AsyncWebClient, slack: SlackSimulator) -> None:
    slack.add_channel("C0OTHER", "other")
    await client.chat_postMessage(channel="#other", text="by name")
    assert [m.text for m in slack.messages("C0OTHER")] == ["by name"]
    info = await client.conversations_info(channel="C0OTHER")
    assert info["channel"]["name"] == "other" and info["channel"]["is_member"] is True


async def test_reactions(client: AsyncWebClient, slack: SlackSimulator) -> None:
    ts = (await client.chat_postMessage(channel=CHANNEL, text="hi"))["ts"]
    await client.reactions_add(channel=CHANNEL, timestamp=ts, name="white_check_mark")
    await client.reactions_add(channel=CHANNEL, timestamp=ts, name=":eyes:")
    with pytest.raises(SlackApiError) as info:
        await client.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")
    assert info.value.response["error"] == "already_reacted"
    assert slack.reactions(CHANNEL, ts) == ["white_check_mark", "eyes"]
    got = await client.reactions_get(channel=CHANNEL, timestamp=ts)
    assert got["message"]["reactions"][0] == {
        "name": "white_check_mark",
        "users": ["UBOT"],
        "count": 1,
    }
    await client.reactions_remove(channel=CHANNEL, timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError) as info:
        await client.reactions_remove(channel=CHANNEL, timestamp=ts, name="eyes")
    assert info.value.response["error"] == "no_reaction"
    with pytest.raises(SlackApiError) as info:
        await client.reactions_add(channel=CHANNEL, timestamp="1.000000", name="eyes")
    assert info.value.response["error"] == "message_not_found"
    assert slack.reactions(CHANNEL, ts) == ["white_check_mark"]


async def test_update_and_delete(client: AsyncWebClient, slack: SlackSimulator) -> None:
    ts = (await client.chat_postMessage(channel=CHANNEL, text="draft"))["ts"]
    updated = await client.chat_update(channel=CHANNEL, ts=ts, text="final")
    assert updated["text"] == "final"
    message = slack.message(CHANNEL, ts)
    assert message is not None and message.text == "final" and message.edited
    await client.chat_delete(channel=CHANNEL, ts=ts)
    message = slack.message(CHANNEL, ts)
    assert message is not None and message.deleted
    for call in (client.chat_update(channel=CHANNEL, ts=ts, text="x"),):
        with pytest.raises(SlackApiError) as info:
            await call
        assert info.value.response["error"] == "message_not_found"


async def test_ephemeral_users_and_views(client: AsyncWebClient, slack: SlackSimulator) -> None:
    answer = await client.chat_postEphemeral(channel=CHANNEL, user="UAGENT1", text="only you")
    assert TS.match(answer["message_ts"])
    assert slack.ephemerals()[0]["text"] == "only you"
    slack.add_user("UAGENT1", "Grace Hopper", "grace")
    user = (await client.users_info(user="UAGENT1"))["user"]
    assert user["real_name"] == "Grace Hopper"
    assert user["profile"]["display_name"] == "grace"
    assert (await client.users_info(user="U999"))["user"]["real_name"]

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Send"}, "blocks": []}
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    view_id = opened["view"]["id"]
    assert view_id.startswith("V")
    await client.views_update(view_id=view_id, view=modal | {"callback_id": "x"})
    await client.views_publish(user_id="UAGENT1", view={"type": "home", "blocks": []})
    assert [v["method"] for v in slack.views()] == ["views.open", "views.update", "views.publish"]
    assert slack.views()[0]["trigger_id"] == "1.2.abc"
    with pytest.raises(SlackApiError):
        await client.views_update(view_id="V404", view=modal)


def test_sync_client_and_file_upload(
    sync_client: WebClient, slack: SlackSimulator, http: httpx.Client
) -> None:
    parent = sync_client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    content = b"%PDF-1.4 fake\r\n\x00\xff"
    uploaded = sync_client.files_upload_v2(
        channel=CHANNEL,
        thread_ts=parent,
        content=content,
        filename="invoice.pdf",
        title="Invoice",
        initial_comment="from WhatsApp",
    )
    file_id = uploaded["file"]["id"]
    assert slack.file_content(file_id) == content
    [reply] = slack.thread(CHANNEL, parent)
    assert reply.text == "from WhatsApp"
    assert reply.files is not None
    [file] = reply.files
    assert (file["id"], file["title"], file["mimetype"]) == (file_id, "Invoice", "application/pdf")
    download = http.get(file["url_private"], headers={"Authorization": f"Bearer {SLACK_TOKEN}"})
    assert download.content == content
    assert http.get(file["url_private"]).status_code == 403
    replies = sync_client.conversations_replies(channel=CHANNEL, ts=parent)
    assert replies["messages"][1]["files"][0]["id"] == file_id
    reacted = sync_client.reactions_add(channel=CHANNEL, timestamp=parent, name="eyes")
    assert reacted["ok"] is True


async def test_async_file_upload(client: AsyncWebClient, slack: SlackSimulator) -> None:
    parent = (await client.chat_postMessage(channel=CHANNEL, text="parent"))["ts"]
    await client.files_upload_v2(
        channel=CHANNEL, thread_ts=parent, content=b"\x89PNG", filename="a.png"
    )
    [reply] = slack.thread(CHANNEL, parent)
    assert reply.files is not None and reply.files[0]["mimetype"] == "image/png"


def test_form_bodies_with_json_fields(http: httpx.Client, slack: SlackSimulator) -> None:
    blocks = [{"type": "divider"}]
    answer = http.post(
        slack.url + "chat.postMessage",
        data={
            "channel": CHANNEL,
            "text": "form",
            "blocks": json.dumps(blocks),
            "metadata": json.dumps({"event_type": "e", "event_payload": {"a": 1}}),
        },
        headers={"Authorization": f"Bearer {SLACK_TOKEN}"},
    ).json()
    assert answer["ok"] is True
    [message] = slack.messages(CHANNEL)
    assert message.blocks == blocks
    assert message.metadata == {"event_type": "e", "event_payload": {"a": 1}}
    token_in_body = http.post(slack.url + "auth.test", data={"token": SLACK_TOKEN}).json()
    assert token_in_body["ok"] is True
    assert http.post(slack.url + "auth.test").json() == {"ok": False, "error": "not_authed"}
    [call] = slack.calls("chat.postMessage")
    assert call.ok and call.args["text"] == "form" and "token" not in call.args


def test_ts_unique_and_increasing(sync_client: WebClient) -> None:
    stamps = [sync_client.chat_postMessage(channel=CHANNEL, text="x")["ts"] for _ in range(30)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 30


# -- failure injection ---------------------------------------------------------------------


async def test_rate_limit_surfaces_as_429_with_retry_after(
    client: AsyncWebClient, sync_client: WebClient, slack: SlackSimulator
) -> None:
    slack.rate_limit_next("chat.postMessage", count=2, retry_after=7)
    await client.auth_test()  # another method is not affected
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"
    with pytest.raises(SlackApiError) as sync_info:
        sync_client.chat_postMessage(channel=CHANNEL, text="x")
    assert sync_info.value.response.status_code == 429
    assert sync_info.value.response.headers["retry-after"] == "7"
    await client.chat_postMessage(channel=CHANNEL, text="x")
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 429, 200]
    assert len(slack.messages(CHANNEL)) == 1


async def test_fail_error_fail_all_and_heal(client: AsyncWebClient, slack: SlackSimulator) -> None:
    slack.fail_next(None, status=503)
    with pytest.raises(SlackApiError) as info:
        await client.auth_test()
    assert info.value.response.status_code == 503
    slack.error_next("reactions.add", "not_in_channel")
    ts = (await client.chat_postMessage(channel=CHANNEL, text="x"))["ts"]
    with pytest.raises(SlackApiError) as info:
        await client.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")
    assert info.value.response.status_code == 200
    assert info.value.response["error"] == "not_in_channel"
    slack.fail_all(None)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            await client.auth_test()
    slack.heal()
    assert (await client.auth_test())["ok"] is True


async def test_latency(client: AsyncWebClient, slack: SlackSimulator) -> None:
    slack.set_latency(0.2)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.2


# -- agent side ----------------------------------------------------------------------------


async def test_agent_reply_is_stored_and_delivered_signed(
    client: AsyncWebClient, slack: SlackSimulator, receiver: Receiver
) -> None:
    parent = (await client.chat_postMessage(channel=CHANNEL, text="Ada"))["ts"]
    delivered = slack.agent_reply(channel=CHANNEL, thread_ts=parent, text="Hello Ada 👋")
    assert delivered.status == 200
    [request] = receiver.requests()
    assert _verified(request)
    assert request.body == delivered.body
    envelope = json.loads(request.body)
    assert envelope["type"] == "event_callback"
    assert envelope["event_id"] == delivered.event_id and delivered.event_id.startswith("Ev")
    assert envelope["team_id"] == "T0SIM"
    assert envelope["authorizations"][0] == {
        "enterprise_id": None,
        "team_id": "T0SIM",
        "user_id": "UBOT",
        "is_bot": True,
        "is_enterprise_install": False,
    }
    event = envelope["event"]
    assert event["type"] == "message"
    assert (event["channel"], event["user"], event["text"]) == (CHANNEL, "UAGENT1", "Hello Ada 👋")
    assert event["thread_ts"] == parent and event["ts"] == delivered.ts == event["event_ts"]
    assert event["channel_type"] == "channel" and event["client_msg_id"]
    assert "bot_id" not in event and "subtype" not in event
    [reply] = slack.thread(CHANNEL, parent)
    assert (reply.ts, reply.user, reply.bot_id) == (delivered.ts, "UAGENT1", None)


def test_redeliver_carries_retry_headers(slack: SlackSimulator, receiver: Receiver) -> None:
    first = slack.agent_post(CHANNEL, "top-level")
    again = slack.redeliver(first, retry_num=2)
    original, retry = receiver.requests()
    assert retry.body == original.body
    assert _verified(retry)
    assert retry.headers["x-slack-retry-num"] == "2"
    assert retry.headers["x-slack-retry-reason"] == "http_timeout"
    assert again.event_id == first.event_id
    assert [m.text for m in slack.top_level(CHANNEL)] == ["top-level"]


async def test_bot_posts_are_echoed_as_events(
    client: AsyncWebClient, slack: SlackSimulator, receiver: Receiver
) -> None:
    slack.echo_bot_messages = True
    posted = await client.chat_postMessage(channel=CHANNEL, text="from the bridge")
    assert slack.wait_for(lambda: len(receiver.requests()) == 1, timeout=5)
    [request] = receiver.requests()
    assert _verified(request)
    event = json.loads(request.body)["event"]
    assert event["bot_id"] == "BBOT" and event["user"] == "UBOT"
    assert event["ts"] == posted["ts"] and "subtype" not in event
    slack.echo_bot_messages = False
    await client.chat_postMessage(channel=CHANNEL, text="quiet")
    assert slack.wait_idle(5)
    assert len(receiver.requests()) == 1


async def test_bot_reactions_are_echoed_as_events(
    client: AsyncWebClient, slack: SlackSimulator, receiver: Receiver
) -> None:
    posted = slack.agent_post(CHANNEL, "thanks!")
    slack.echo_bot_reactions = True
    await client.reactions_add(channel=CHANNEL, timestamp=posted.ts, name="white_check_mark")
    await client.reactions_remove(channel=CHANNEL, timestamp=posted.ts, name="white_check_mark")
    # The simulator records an event once the receiver has answered it: wait for both.
    assert slack.wait_for(
        lambda: len(receiver.requests()) == 3 and len(slack.events()) == 3, timeout=5
    )
    assert all(_verified(r) for r in receiver.requests())
    _, added, removed = [json.loads(r.body)["event"] for r in receiver.requests()]
    item = {"type": "message", "channel": CHANNEL, "ts": posted.ts}
    assert (added["type"], added["user"], added["reaction"]) == (
        "reaction_added",
        "UBOT",
        "white_check_mark",
    )
    assert added["item"] == item and added["item_user"] == "UAGENT1"
    assert (removed["type"], removed["user"], removed["item"]) == ("reaction_removed", "UBOT", item)
    assert float(removed["event_ts"]) > float(added["event_ts"])
    assert [e.ts for e in slack.events()][1:] == [posted.ts, posted.ts]
    # A refused reaction changes nothing, so Slack says nothing.
    with pytest.raises(SlackApiError):
        await client.reactions_remove(channel=CHANNEL, timestamp=posted.ts, name="eyes")
    slack.echo_bot_reactions = False
    await client.reactions_add(channel=CHANNEL, timestamp=posted.ts, name="eyes")
    assert slack.wait_idle(5)
    assert len(receiver.requests()) == 3


def test_agent_edit_delete_and_react(slack: SlackSimulator, receiver: Receiver) -> None:
    posted = slack.agent_post(CHANNEL, "typo")
    slack.agent_edit(CHANNEL, posted.ts, "fixed")
    slack.agent_react(CHANNEL, posted.ts, "thumbsup")
    slack.agent_delete(CHANNEL, posted.ts)
    events = [json.loads(r.body)["event"] for r in receiver.requests()]
    assert all(_verified(r) for r in receiver.requests())
    _, edited, reacted, deleted = events
    assert edited["subtype"] == "message_changed"
    assert edited["message"]["text"] == "fixed" and edited["message"]["ts"] == posted.ts
    assert edited["previous_message"]["text"] == "typo"
    assert reacted["type"] == "reaction_added" and reacted["reaction"] == "thumbsup"
    assert reacted["item"] == {"type": "message", "channel": CHANNEL, "ts": posted.ts}
    assert reacted["item_user"] == "UAGENT1"
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == posted.ts
    message = slack.message(CHANNEL, posted.ts)
    assert message is not None and message.deleted and message.edited
    assert message.reactions == {"thumbsup": ["UAGENT1"]}


def test_agent_upload(slack: SlackSimulator, receiver: Receiver, http: httpx.Client) -> None:
    slack.agent_upload(channel=CHANNEL, filename="photo.jpg", content=b"jpeg", text="look")
    event = json.loads(receiver.requests()[0].body)["event"]
    assert event["subtype"] == "file_share"
    [file] = event["files"]
    assert file["mimetype"] == "image/jpeg"
    got = http.get(file["url_private_download"], headers={"Authorization": f"Bearer {SLACK_TOKEN}"})
    assert got.content == b"jpeg"
    assert file["size"] == 4


def test_agent_upload_of_a_declared_size(slack: SlackSimulator, receiver: Receiver) -> None:
    # A file too large to hold in a test: Slack reports its size, the bytes are a stand-in.
    slack.agent_upload(
        channel=CHANNEL, filename="holiday.mp4", content=b"mp4", size=40 * 1024 * 1024
    )
    [file] = json.loads(receiver.requests()[0].body)["event"]["files"]
    assert (file["size"], file["mimetype"]) == (40 * 1024 * 1024, "video/mp4")
    assert slack.file_content(file["id"]) == b"mp4"


def test_slash_command_and_response_url(
    slack: SlackSimulator, receiver: Receiver, http: httpx.Client
) -> None:
    response = slack.slash_command("/wa", "templates order")
    assert response.status_code == 200
    [request] = receiver.requests()
    assert _verified(request)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    assert fields["command"] == "/wa" and fields["text"] == "templates order"
    assert (fields["user_id"], fields["channel_id"], fields["team_id"]) == (
        "UAGENT1",
        CHANNEL,
        "T0SIM",
    )
    assert fields["trigger_id"]
    http.post(fields["response_url"], json={"text": "3 templates", "response_type": "ephemeral"})
    assert slack.responses() == [{"text": "3 templates", "response_type": "ephemeral"}]


async def test_interactivity_payloads(
    client: AsyncWebClient, slack: SlackSimulator, receiver: Receiver
) -> None:
    parent = (await client.chat_postMessage(channel=CHANNEL, text="thread"))["ts"]
    slack.block_action(
        user="UAGENT1",
        channel=CHANNEL,
        message_ts=parent,
        action_id="send_template",
        value="order_update|en",
        thread_ts=parent,
    )
    slack.message_shortcut(
        callback_id="wa_send_template", channel=CHANNEL, message_ts=parent, user="UAGENT1"
    )
    view = {"type": "modal", "callback_id": "wa_template", "private_metadata": "x"}
    values = {"b": {"a": {"type": "static_select", "selected_option": {"value": "v"}}}}
    slack.view_submission(view, "UAGENT1", values=values)
    requests = receiver.requests()
    assert all(_verified(r) for r in requests)
    action, shortcut, submission = (_form_payload(r) for r in requests)
    assert action["type"] == "block_actions"
    assert action["actions"][0]["action_id"] == "send_template"
    assert action["actions"][0]["value"] == "order_update|en"
    assert action["container"]["message_ts"] == parent
    assert action["message"]["text"] == "thread"
    assert action["user"]["id"] == "UAGENT1" and action["trigger_id"]
    assert shortcut["type"] == "message_action"
    assert shortcut["callback_id"] == "wa_send_template"
    assert shortcut["message_ts"] == parent and shortcut["channel"]["id"] == CHANNEL
    assert submission["type"] == "view_submission"
    assert submission["view"]["callback_id"] == "wa_template"
    assert submission["view"]["state"]["values"] == values


def test_url_verification(slack: SlackSimulator, receiver: Receiver) -> None:
    slack.url_verification("abc")
    [request] = receiver.requests()
    assert json.loads(request.body) == {
        "token": "simverificationtoken",
        "challenge": "abc",
        "type": "url_verification",
    }


def test_control_api_and_reset(
    sync_client: WebClient, slack: SlackSimulator, http: httpx.Client
) -> None:
    sync_client.chat_postMessage(channel=CHANNEL, text="one")
    root = slack.url.removesuffix("/api/")
    listed = http.get(f"{root}/_sim/messages", params={"channel": CHANNEL}).json()
    assert [m["text"] for m in listed] == ["one"]
    slack.rate_limit_next(None)
    slack.reset()
    assert slack.messages(CHANNEL) == [] and slack.calls() == []
    assert sync_client.auth_test()["ok"] is True


def test_agent_side_needs_events_url() -> None:
    sim = SlackSimulator(bot_token="xoxb-x", signing_secret="s")
    with pytest.raises(RuntimeError, match="events_url"):
        sim.agent_post(CHANNEL, "x")
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.url


# -- what `wabridge doctor` checks ---------------------------------------------------------


async def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        await call
    data: dict[str, Any] = info.value.response.data
    return data


async def test_scopes_are_configurable_and_enforced(
    client: AsyncWebClient, slack: SlackSimulator
) -> None:
    assert slack.scopes == tuple(SCOPES.split(","))
    slack.set_scopes(["channels:history", "users:read"])
    answer = await client.auth_test()
    assert answer.headers["x-oauth-scopes"] == "channels:history,users:read"
    missing = await _error(client.chat_postMessage(channel=CHANNEL, text="x"))
    assert missing == {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "channels:history,users:read",
    }
    [call] = slack.calls("chat.postMessage")
    assert call.error == "missing_scope"
    cases = [
        (client.chat_update(channel=CHANNEL, ts="1.000001", text="x"), "chat:write"),
        (
            client.reactions_add(channel=CHANNEL, timestamp="1.000001", name="eyes"),
            "reactions:write",
        ),
    ]
    for call_, needed in cases:
        assert (await _error(call_))["needed"] == needed
    assert (await client.users_info(user="UAGENT1"))["ok"] is True
    assert (await client.conversations_history(channel=CHANNEL))["ok"] is True
    # views.* need no scope.
    assert (await client.views_open(trigger_id="1.2.a", view={"type": "modal"}))["ok"] is True

    slack.add_channel("C0SECRET", "secret", private=True)
    history = await _error(client.conversations_history(channel="C0SECRET"))
    assert history["needed"] == "groups:history"
    slack.set_scopes(["groups:history"])
    assert (await _error(client.conversations_replies(channel=CHANNEL, ts="1.0")))[
        "needed"
    ] == "channels:history"
    assert (await _error(client.users_info(user="UAGENT1")))["needed"] == "users:read"
    unknown = await _error(client.conversations_history(channel="C404"))
    assert unknown["error"] == "channel_not_found"  # groups:history is one of the options


def test_scopes_given_to_the_constructor() -> None:
    with SlackSimulator(bot_token="xoxb-x", signing_secret="s", scopes=["chat:write"]) as sim:
        answer = WebClient(token="xoxb-x", base_url=sim.url).auth_test()
        assert answer.headers["x-oauth-scopes"] == "chat:write"


#: Scopes beyond the manifests' that these simulator tests use (channel info, joining).
_WIDER: Final = ("channels:read", "channels:join", "chat:write.public")


async def test_bot_membership(client: AsyncWebClient, slack: SlackSimulator) -> None:
    slack.set_scopes([*slack.scopes, *_WIDER])
    slack.remove_bot(CHANNEL)
    info = await client.conversations_info(channel=CHANNEL)
    assert info["channel"]["is_member"] is False
    assert (await client.conversations_members(channel=CHANNEL))["members"] == []
    assert (await _error(client.conversations_history(channel=CHANNEL)))[
        "error"
    ] == "not_in_channel"
    # chat:write.public lets a bot post in a public channel it is not in, as on Slack.
    assert (await client.chat_postMessage(channel=CHANNEL, text="public"))["ok"] is True
    slack.set_scopes([s for s in slack.scopes if s != "chat:write.public"])
    refused = await _error(client.chat_postMessage(channel=CHANNEL, text="x"))
    assert refused["error"] == "not_in_channel"
    slack.add_bot("#support")
    assert (await client.chat_postMessage(channel=CHANNEL, text="back"))["ok"] is True
    assert (await client.conversations_members(channel=CHANNEL))["members"] == ["UBOT"]
    slack.remove_bot(CHANNEL)
    joined = await client.conversations_join(channel=CHANNEL)
    assert joined["channel"]["is_member"] is True
    assert [m.text for m in slack.messages(CHANNEL)] == ["public", "back"]


async def test_private_channels(
    client: AsyncWebClient, slack: SlackSimulator, receiver: Receiver
) -> None:
    slack.set_scopes([*slack.scopes, *_WIDER])
    slack.add_channel("C0SECRET", "secret", private=True)
    info = await client.conversations_info(channel="C0SECRET")
    assert info["channel"]["is_private"] is True and info["channel"]["is_member"] is True
    assert (await client.conversations_info(channel=CHANNEL))["channel"]["is_private"] is False
    slack.agent_post("C0SECRET", "psst")
    assert json.loads(receiver.requests()[0].body)["event"]["channel_type"] == "group"
    slack.remove_bot("C0SECRET")
    for call in (
        client.conversations_info(channel="C0SECRET"),
        client.chat_postMessage(channel="C0SECRET", text="x"),
        client.conversations_join(channel="C0SECRET"),
    ):
        assert (await _error(call))["error"] == "channel_not_found"
    slack.add_bot("C0SECRET")
    joined = await _error(client.conversations_join(channel="C0SECRET"))
    assert joined["error"] == "method_not_supported_for_channel_type"


async def test_revoked_token(client: AsyncWebClient, slack: SlackSimulator) -> None:
    slack.revoke_token()
    for call in (client.auth_test(), client.chat_postMessage(channel=CHANNEL, text="x")):
        assert (await _error(call))["error"] == "token_revoked"
    slack.restore_token()
    assert (await client.auth_test())["ok"] is True
    slack.revoke_token()
    slack.reset()  # restores the token, the scopes and memberships
    assert (await client.auth_test())["ok"] is True


# -- modals: views.push, views.update, options ---------------------------------------------

MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Send"}, "blocks": []}


async def test_views_push_and_update_keep_the_stack(
    client: AsyncWebClient, slack: SlackSimulator
) -> None:
    assert (await _error(client.views_push(trigger_id="1.2.x", view=MODAL)))[
        "error"
    ] == "invalid_trigger_id"
    root = (await client.views_open(trigger_id="1.2.a", view=MODAL))["view"]
    assert (root["root_view_id"], root["previous_view_id"]) == (root["id"], None)
    second = (await client.views_push(trigger_id="1.2.b", view=MODAL))["view"]
    assert (second["root_view_id"], second["previous_view_id"]) == (root["id"], root["id"])
    updated = await client.views_update(
        view_id=second["id"], hash=second["hash"], view=MODAL | {"callback_id": "v2"}
    )
    assert updated["view"]["id"] == second["id"]
    assert (updated["view"]["root_view_id"], updated["view"]["previous_view_id"]) == (
        root["id"],
        root["id"],
    )
    assert updated["view"]["hash"] != second["hash"]
    stale = await _error(client.views_update(view_id=second["id"], hash=second["hash"], view=MODAL))
    assert stale["error"] == "hash_conflict"
    third = (await client.views_push(trigger_id="1.2.c", view=MODAL))["view"]
    assert third["previous_view_id"] == second["id"]
    full = await _error(client.views_push(trigger_id="1.2.d", view=MODAL))
    assert full["error"] == "push_limit_reached"
    assert (await _error(client.views_push(view=MODAL)))["error"] == "invalid_arguments"

    log = slack.views()
    assert [v["method"] for v in log] == ["views.open", "views.push", "views.update", "views.push"]
    assert [v.get("trigger_id") for v in log] == ["1.2.a", "1.2.b", None, "1.2.c"]
    assert all(set(v) >= {"method", "view"} for v in log)


async def test_a_button_in_a_modal_pushes_onto_its_stack(
    client: AsyncWebClient, slack: SlackSimulator, receiver: Receiver
) -> None:
    first = (await client.views_open(trigger_id="1.2.a", view=MODAL))["view"]
    second_modal = (await client.views_open(trigger_id="1.2.b", view=MODAL))["view"]
    answer = slack.view_action(user="UAGENT1", view=first, action_id="more", value="x")
    assert answer.status_code == 200
    payload = _form_payload(receiver.requests()[0])
    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "view", "view_id": first["id"]}
    assert payload["view"]["id"] == first["id"] and payload["actions"][0]["action_id"] == "more"
    pushed = (await client.views_push(trigger_id=payload["trigger_id"], view=MODAL))["view"]
    # The trigger came from the first modal, not the most recent one.
    assert pushed["root_view_id"] == first["id"] != second_modal["id"]


def test_block_suggestion_payload(slack: SlackSimulator, receiver: Receiver) -> None:
    view = {"id": "V0MODAL", "type": "modal", "callback_id": "wa_template"}
    answer = slack.block_suggestion(
        user="UAGENT1", view=view, action_id="template", block_id="tpl", value="ord"
    )
    assert answer.status_code == 200 and answer.json() == {"received": True}
    assert answer.payload == {"received": True} and answer.headers["content-type"]
    [request] = receiver.requests()
    assert _verified(request)
    payload = _form_payload(request)
    assert payload["type"] == "block_suggestion"
    assert (payload["action_id"], payload["block_id"], payload["value"]) == (
        "template",
        "tpl",
        "ord",
    )
    assert payload["container"] == {"type": "view", "view_id": "V0MODAL"}
    assert payload["view"]["callback_id"] == "wa_template"
    assert payload["user"]["id"] == "UAGENT1" and payload["team"]["id"] == "T0SIM"
    assert payload["api_app_id"] == "ASIMAPP"
