"""The Slack side of ChatSurface, through slack_sdk, against the Slack simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bridge.domain import (
    AccountEventKind,
    DeliveryProblem,
    FailureKind,
    MessageStatus,
    NextStep,
    Notice,
    NoticeKind,
    OperatorNotice,
)
from bridge.errors import ChatError
from bridge.ports import ContactView, CustomerMessageView
from sandbox.slack_sim import SlackSimulator
from slack_app.pacing import SlackPacing
from slack_app.surface import SlackSurface
from tests.fakes import T0

TOKEN = "xoxb-surface-test-token"
CHANNEL = "C0SUPPORT"
CONTACT = ContactView(contact_id="4915112345678", name="Ada", business_number="15550001111")
#: A recheck's lower bound well before anything the simulator stamps (it uses the real time).
LONG_AGO = T0 - timedelta(days=3650)


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
        pacing=SlackPacing.unpaced(),
        now=lambda: T0,
    )


async def _thread(surface: SlackSurface, key: str = "c1") -> str:
    return await surface.open_thread(channel=CHANNEL, contact=CONTACT, key=key, recheck_since=None)


async def test_thread_and_customer_message(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    ts = await surface.post_customer_message(
        channel=CHANNEL,
        thread_ts=thread,
        message=CustomerMessageView(message_type="text", text="Hello <b> <!channel>"),
        key="m1",
        recheck_since=None,
    )
    [parent] = slack.top_level(CHANNEL)
    assert parent.ts == thread and "Ada" in parent.text
    [reply] = slack.thread(CHANNEL, thread)
    assert reply.ts == ts and reply.text == "Hello &lt;b&gt; &lt;!channel&gt;"


async def test_recheck_finds_an_earlier_post_instead_of_posting_again(
    slack: SlackSimulator,
) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    again = await surface.open_thread(
        channel=CHANNEL, contact=CONTACT, key="c1", recheck_since=LONG_AGO
    )
    view = CustomerMessageView(message_type="text", text="hi")
    first = await surface.post_customer_message(
        channel=CHANNEL, thread_ts=thread, message=view, key="m1", recheck_since=None
    )
    second = await surface.post_customer_message(
        channel=CHANNEL, thread_ts=thread, message=view, key="m1", recheck_since=LONG_AGO
    )
    assert (again, second) == (thread, first)
    assert len(slack.messages(CHANNEL)) == 2


async def test_recheck_pages_through_a_thread_of_250_posts(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    view = CustomerMessageView(message_type="text", text="busy")
    posted = {}
    for n in range(250):
        posted[n] = await surface.post_customer_message(
            channel=CHANNEL, thread_ts=thread, message=view, key=f"m{n}", recheck_since=None
        )
    found = await surface.post_customer_message(
        channel=CHANNEL, thread_ts=thread, message=view, key="m240", recheck_since=LONG_AGO
    )
    assert found == posted[240]
    assert len(slack.thread(CHANNEL, thread)) == 250
    assert len(slack.calls("conversations.replies")) >= 2  # it took more than one page


async def test_recheck_pages_through_a_long_channel(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    parents = [await _thread(surface, key=f"c{n}") for n in range(250)]
    again = await surface.open_thread(
        channel=CHANNEL, contact=CONTACT, key="c3", recheck_since=LONG_AGO
    )
    assert again == parents[3]
    assert len(slack.top_level(CHANNEL)) == 250
    assert len(slack.calls("conversations.history")) >= 2


async def test_a_post_of_another_installation_is_never_adopted(slack: SlackSimulator) -> None:
    """Keys are random per row: a bridge whose database was reset finds nothing of the old."""
    old = _surface(slack)
    await _thread(old, key="0f3c9a1e5b7d4c2a8e6f1b3d5a7c9e0f")
    fresh = await _surface(slack).open_thread(
        channel=CHANNEL,
        contact=CONTACT,
        key="9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        recheck_since=LONG_AGO,
    )
    assert len(slack.top_level(CHANNEL)) == 2
    assert fresh == slack.top_level(CHANNEL)[1].ts


async def test_rate_limit_becomes_chat_error_with_retry_after(slack: SlackSimulator) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(ChatError) as error:
        await _thread(_surface(slack))
    assert error.value.kind == FailureKind.THROTTLED and error.value.retry_after == 7
    assert slack.messages(CHANNEL) == []


async def test_server_error_and_a_missing_channel_are_worth_a_retry(
    slack: SlackSimulator,
) -> None:
    surface = _surface(slack)
    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(ChatError) as server:
        await _thread(surface)
    assert server.value.kind == FailureKind.TRANSIENT
    with pytest.raises(ChatError) as missing:
        await surface.open_thread(channel="CNOPE", contact=CONTACT, key="c1", recheck_since=None)
    assert missing.value.kind == FailureKind.TRANSIENT
    assert missing.value.reason == "slack:channel_not_found"
    assert "in channel CNOPE" in str(missing.value)  # the log says which


async def test_a_refused_reaction_is_permanent_and_a_repeated_one_harmless(
    slack: SlackSimulator,
) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    await surface.show_delivery(channel=CHANNEL, ts=thread, stages=[MessageStatus.SENT])
    stages = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]
    await surface.show_delivery(channel=CHANNEL, ts=thread, stages=stages)
    assert slack.reactions(CHANNEL, thread) == ["heavy_check_mark", "mailbox_with_mail", "eyes"]
    with pytest.raises(ChatError) as gone:
        await surface.show_delivery(channel=CHANNEL, ts="1.000001", stages=[MessageStatus.SENT])
    assert gone.value.kind == FailureKind.PERMANENT
    assert gone.value.reason == "slack:message_not_found"


async def test_a_failure_mark_gives_way_to_a_new_send_s_progress(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    await surface.show_delivery(channel=CHANNEL, ts=thread, stages=[MessageStatus.FAILED])
    assert slack.reactions(CHANNEL, thread) == ["x"]
    for _ in range(2):  # withdrawing a mark already gone is harmless
        await surface.show_delivery(
            channel=CHANNEL,
            ts=thread,
            stages=[MessageStatus.SENT],
            withdrawn=[MessageStatus.FAILED],
        )
    assert slack.reactions(CHANNEL, thread) == ["heavy_check_mark"]


async def test_a_notice_offering_a_next_step_carries_its_button(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    notice = Notice(
        kind=NoticeKind.DELIVERY_FAILED,
        error_code=131000,
        error_title="Something went wrong",
        problem=DeliveryProblem.TEMPORARY,
        next_step=NextStep.RETRY,
        message_id=42,
    )
    ts = await surface.post_notice(
        channel=CHANNEL,
        thread_ts=thread,
        notice=notice,
        conversation_id=7,
        key="n1",
        recheck_since=None,
    )
    posted = slack.message(CHANNEL, ts)
    assert posted is not None and posted.blocks is not None
    section, actions = posted.blocks
    assert "Not delivered" in section["text"]["text"] and "131000" in posted.text
    [button] = actions["elements"]
    assert (button["action_id"], button["value"]) == ("wa_retry_send", "42")


async def test_a_played_voice_note_has_its_own_reaction_no_customer_can_fake(
    slack: SlackSimulator,
) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    await surface.show_delivery(
        channel=CHANNEL, ts=thread, stages=[MessageStatus.READ, MessageStatus.PLAYED]
    )
    assert slack.reactions(CHANNEL, thread) == ["eyes", "headphones"]
    post = await surface.post_customer_message(
        channel=CHANNEL,
        thread_ts=thread,
        message=CustomerMessageView(message_type="text", text="hi"),
        key="m1",
        recheck_since=None,
    )
    # A customer's 🎧 would read as "played": it is refused as a reaction (shown as a line).
    assert not await surface.react_for_customer(channel=CHANNEL, ts=post, emoji="🎧")
    assert await surface.react_for_customer(channel=CHANNEL, ts=post, emoji="🎉")
    assert slack.reactions(CHANNEL, post) == ["tada"]


async def test_an_operator_notice_is_a_message_of_its_own_posted_once(
    slack: SlackSimulator,
) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    notice = OperatorNotice(
        kind=AccountEventKind.VIOLATION, waba_id="102290129340398", violation="<SCAM>"
    )
    first = await surface.post_operator_notice(
        channel=CHANNEL, notice=notice, key="a1", recheck_since=None
    )
    again = await surface.post_operator_notice(
        channel=CHANNEL, notice=notice, key="a1", recheck_since=LONG_AGO
    )
    assert again == first  # a retry finds the post a crash hid
    parent, posted = slack.top_level(CHANNEL)
    assert (parent.ts, posted.ts) == (thread, first)
    assert slack.thread(CHANNEL, thread) == []
    assert "policy violation" in posted.text and "&lt;scam&gt;" in posted.text
    assert "102290129340398" in posted.text


async def test_notice_in_thread(slack: SlackSimulator) -> None:
    surface = _surface(slack)
    thread = await _thread(surface)
    notice = Notice(
        kind=NoticeKind.DELIVERY_FAILED,
        error_code=131047,
        error_title="Re-engagement message",
        problem=DeliveryProblem.WINDOW_CLOSED,
    )
    await surface.post_notice(
        channel=CHANNEL,
        thread_ts=thread,
        notice=notice,
        conversation_id=1,
        key="n1",
        recheck_since=None,
    )
    [posted] = slack.thread(CHANNEL, thread)
    assert "131047" in posted.text and "approved template" in posted.text


async def test_a_wrong_token_pauses_slack_work(slack: SlackSimulator) -> None:
    with pytest.raises(ChatError) as error:
        await _thread(_surface(slack, token="xoxb-wrong"))
    assert error.value.kind == FailureKind.AUTH and error.value.reason == "slack:invalid_auth"
