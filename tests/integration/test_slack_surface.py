"""The Slack side of ChatSurface, through slack_sdk, against the Slack simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bridge.domain import MessageStatus
from bridge.errors import ChatError
from bridge.ports import ContactView, CustomerMessageView, Notice
from sandbox.slack_sim import SlackSimulator
from slack_app.pacing import ChannelPacer
from slack_app.surface import SlackSurface
from tests.fakes import T0

TOKEN = "xoxb-surface-test-token"
CHANNEL = "C0SUPPORT"
CONTACT = ContactView(contact_id="4915112345678", name="Ada", business_number="15550001111")


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN, signing_secret="s", echo_bot_messages=False) as sim:
        yield sim


@pytest.fixture
def slack(slack_server: SlackSimulator) -> SlackSimulator:
    slack_server.reset()
    return slack_server


def _surface(slack: SlackSimulator, *, token: str = TOKEN) -> SlackSurface:
    return SlackSurface(
        client=AsyncWebClient(token=token, base_url=slack.url),
        pacer=ChannelPacer(rate=0),
        advice=lambda code: "Send a template instead.",
        now=lambda: T0,
    )


async def test_thread_and_customer_message(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await surface.open_thread(channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False)
    ts = await surface.post_customer_message(
        channel=CHANNEL,
        thread_ts=thread,
        message=CustomerMessageView(message_type="text", text="Hello <b>"),
        key="m:1",
        recheck=False,
    )
    [parent] = slack.top_level(CHANNEL)
    assert parent.ts == thread and "Ada" in parent.text
    [reply] = slack.thread(CHANNEL, thread)
    assert reply.ts == ts and reply.text == "Hello &lt;b&gt;"


async def test_recheck_finds_an_earlier_post_instead_of_posting_again(
    slack: SlackSimulator,
) -> None:
    surface = _surface(slack)
    thread = await surface.open_thread(channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False)
    again = await surface.open_thread(channel=CHANNEL, contact=CONTACT, key="c:1", recheck=True)
    view = CustomerMessageView(message_type="text", text="hi")
    first = await surface.post_customer_message(
        channel=CHANNEL, thread_ts=thread, message=view, key="m:1", recheck=False
    )
    second = await surface.post_customer_message(
        channel=CHANNEL, thread_ts=thread, message=view, key="m:1", recheck=True
    )
    assert (again, second) == (thread, first)
    assert len(slack.messages(CHANNEL)) == 2


async def test_rate_limit_becomes_chat_error_with_retry_after(slack: SlackSimulator) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(ChatError) as error:
        await _surface(slack).open_thread(
            channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False
        )
    assert error.value.transient and error.value.retry_after == 7
    assert slack.messages(CHANNEL) == []


async def test_server_error_is_transient_and_bad_channel_is_not(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(ChatError) as server:
        await surface.open_thread(channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False)
    assert server.value.transient
    with pytest.raises(ChatError) as missing:
        await surface.open_thread(channel="CNOPE", contact=CONTACT, key="c:1", recheck=False)
    assert not missing.value.transient and "channel_not_found" in str(missing.value)


async def test_delivery_reactions_accumulate_and_repeat_harmlessly(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await surface.open_thread(channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False)
    await surface.show_delivery(channel=CHANNEL, ts=thread, stages=[MessageStatus.SENT])
    stages = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]
    await surface.show_delivery(channel=CHANNEL, ts=thread, stages=stages)
    assert slack.reactions(CHANNEL, thread) == ["heavy_check_mark", "mailbox_with_mail", "eyes"]


async def test_notice_in_thread(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await surface.open_thread(channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False)
    notice = Notice(kind="delivery_failed", error_code=131047, error_title="Re-engagement message")
    await surface.post_notice(
        channel=CHANNEL, thread_ts=thread, notice=notice, key="n:1", recheck=False
    )
    [posted] = slack.thread(CHANNEL, thread)
    assert "131047" in posted.text and "Send a template instead." in posted.text


async def test_a_wrong_token_is_a_permanent_error(slack: SlackSimulator) -> None:
    with pytest.raises(ChatError) as error:
        await _surface(slack, token="xoxb-wrong").open_thread(
            channel=CHANNEL, contact=CONTACT, key="c:1", recheck=False
        )
    assert not error.value.transient and "invalid_auth" in str(error.value)
