"""The next step on a failure notice, over a real database and the real bolt listeners:
"Retry" after retries ran out, "Send again" after an unknown outcome, "Send template" after
the window closed; the same notice and button whether Meta refused at once or said so later.

Notices are posted by the real surface to the Slack simulator, and clicks on them go through
bolt's own dispatch (signature checks off); WhatsApp and the thread's other posts are the
fakes of ``World``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bridge.domain import MessageStatus, MessageTemplate, NextStep, Notice, NoticeKind
from bridge.errors import DeliveryError
from bridge.ports import MessageRecord
from bridge.usecases.replies import ReplyChanges
from bridge.usecases.resends import ResendOutcome, Resends
from bridge.usecases.status import StatusReports
from bridge.usecases.templates import TemplatePicker, Templates
from sandbox.slack_sim import SlackSimulator
from sandbox.slack_state import SimMessage
from slack_app.ids import OPEN_TEMPLATE_MODAL, RETRY_SEND, SEND_AGAIN
from slack_app.listeners import ListenerDeps, register_all
from slack_app.messages.templates import ModalState
from slack_app.pacing import SlackPacing
from slack_app.surface import SlackSurface
from storage.repositories.messages import SqlMessages
from tests import payloads
from tests.fakes import T0, meta_error
from tests.integration.world import CHANNEL, RETRY_FOR, World
from whatsapp.errors import MetaTransportError

TOKEN = "xoxb-resends-test-token"
AGENT, OTHER_AGENT = "U1", "U2"
ORDER = MessageTemplate(
    name="order_update",
    language="en",
    category="UTILITY",
    status="APPROVED",
    body_text="Your order has shipped.",
)


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN, signing_secret="s", echo_bot_messages=False) as sim:
        yield sim


@pytest.fixture
def sim(slack_server: SlackSimulator) -> SlackSimulator:
    slack_server.reset()
    return slack_server


@dataclass
class Slack:
    """The bolt app with every listener, over ``World``'s database and clock, talking to the
    Slack simulator; notices are posted there by the real surface, so a click carries what
    Slack would show."""

    app: AsyncApp
    sim: SlackSimulator
    surface: SlackSurface
    parent: str

    @classmethod
    async def build(cls, world: World, sim: SlackSimulator, *, templates: bool = False) -> Slack:
        client = AsyncWebClient(token=TOKEN, base_url=sim.url)
        app = AsyncApp(
            client=client,
            signing_secret="s",
            request_verification_enabled=False,
            process_before_response=True,  # a dispatch returns once the listener is done
        )
        picker = None
        if templates:
            world.whatsapp.account_templates = [ORDER]
            stored = Templates(
                uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id="W"
            )
            await stored.sync()
            picker = TemplatePicker(uow=world.uow, templates=stored)
        register_all(
            app,
            ListenerDeps(
                replies=world.replies,
                changes=ReplyChanges(uow=world.uow, clock=world.clock),
                users=_NoNames(),
                note_prefix="//",
                status=StatusReports(
                    uow=world.uow, clock=world.clock, phone_number_id="P", channel=CHANNEL
                ),
                template_picker=picker,
                resends=Resends(uow=world.uow, clock=world.clock),
                clock=world.clock.now,
            ),
        )
        surface = SlackSurface(
            client=client, pacing=SlackPacing.unpaced(), now=lambda: T0, template_button=True
        )
        parent = (await client.chat_postMessage(channel=CHANNEL, text="Ada"))["ts"]
        return cls(app, sim, surface, str(parent))

    async def post(self, notice: Notice, *, conversation_id: int = 1) -> SimMessage:
        """The notice as the bridge posts it in the thread."""
        ts = await self.surface.post_notice(
            channel=CHANNEL,
            thread_ts=self.parent,
            notice=notice,
            conversation_id=conversation_id,
            key=f"notice-{notice.message_id}",
            recheck_since=None,
        )
        posted = self.sim.message(CHANNEL, ts)
        assert posted is not None
        return posted

    async def click(self, posted: SimMessage, *, user: str = OTHER_AGENT) -> dict[str, Any]:
        """A click on the button of a posted notice (as it looks now); returns the button."""
        [button] = _buttons(posted)
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "trigger_id": f"1.2.{user}",
            "container": {"type": "message", "message_ts": posted.ts, "channel_id": CHANNEL},
            "channel": {"id": CHANNEL},
            "message": {
                "type": "message",
                "ts": posted.ts,
                "thread_ts": self.parent,
                "text": posted.text,
                "blocks": posted.blocks,
            },
            "actions": [
                {
                    "type": "button",
                    "block_id": "b",
                    "action_id": button["action_id"],
                    "value": button["value"],
                }
            ],
        }
        request = AsyncBoltRequest(
            body="payload=" + quote(json.dumps(payload)),
            headers={"content-type": ["application/x-www-form-urlencoded"]},
        )
        response = await self.app.async_dispatch(request)
        assert response.status == 200
        return button

    def line(self, posted: SimMessage) -> str:
        """What a used notice says in place of its button."""
        now = self.sim.message(CHANNEL, posted.ts)
        assert now is not None and now.blocks is not None
        assert not _buttons(now), "the button is still there"
        last = now.blocks[-1]
        assert last["type"] == "context"
        return str(last["elements"][0]["text"])


def _buttons(message: SimMessage) -> list[dict[str, Any]]:
    return [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


class _NoNames:
    async def display_name(self, user_id: str) -> str | None:
        return None


async def _conversation(world: World) -> str:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Where is it?", at=T0)))
    await world.drain()
    return await world.thread()


async def _until_given_up(world: World) -> None:
    """Drain while the clock runs past ``WABRIDGE_RETRY_FOR``: the send job gives up."""
    while world.clock.now() - T0 < RETRY_FOR + timedelta(minutes=10):
        await world.drain()
        world.clock.advance(seconds=30)
    await world.drain()


def _failure_notices(world: World) -> list[Notice]:
    return [n for n in world.chat.notices if n.kind == NoticeKind.DELIVERY_FAILED]


def _texts(world: World) -> list[str]:
    return [str(s.get("text")) for s in world.whatsapp.sent]


async def _failed_reply(world: World, thread: str, error: DeliveryError) -> int:
    """An agent's reply that ends failed with ``error`` (retried until it gives up, if
    transient); returns its message id."""
    world.whatsapp.fail_with = error
    result = await world.queue_reply(thread, "It ships today")
    await world.drain()
    if error.kind.retryable:
        await _until_given_up(world)
    world.whatsapp.fail_with = None
    [message_id] = result.message_ids
    assert (await world.message(message_id)).status == MessageStatus.FAILED
    return message_id


async def test_retry_after_retries_ran_out_sends_once_however_often_it_is_clicked(
    world: World, sim: SlackSimulator
) -> None:
    thread = await _conversation(world)
    failed_id = await _failed_reply(world, thread, meta_error(131000, "Something went wrong"))
    original = await world.message(failed_id)
    assert world.chat.reactions[str(original.slack_ts)] == ["failed"]
    [notice] = _failure_notices(world)
    assert (notice.next_step, notice.message_id) == (NextStep.RETRY, failed_id)

    slack = await Slack.build(world, sim)
    posted = await slack.post(notice)
    # Two agents (or one double click) at once, then a third click on a stale screen.
    buttons = await asyncio.gather(slack.click(posted), slack.click(posted, user=AGENT))
    assert {(b["action_id"], b["value"]) for b in buttons} == {(RETRY_SEND, str(failed_id))}
    await slack.click(posted)
    await world.drain()

    assert _texts(world) == ["It ships today"]  # exactly one new send
    async with world.uow() as uow:
        sends = await uow.messages.parts_of_reply(original.conversation_id, str(original.slack_ts))
    again = [m for m in sends if m.id != failed_id]
    assert [(m.status, m.slack_ts) for m in again] == [(MessageStatus.SENT, original.slack_ts)]
    assert again[0].slack_user in (AGENT, OTHER_AGENT)
    # Its delivery shows on the agent's own post, where the failure mark was.
    assert world.chat.reactions[str(original.slack_ts)] == ["sent"]
    # The button gave way to who sent it again (the last click found it done already).
    assert slack.line(posted) == f":repeat: Already sent again by <@{again[0].slack_user}>."
    assert len(sim.calls("chat.update")) == 3


async def test_a_click_that_loses_the_race_names_the_agent_who_won(
    world: World, sim: SlackSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clicks that both check before either inserts (PostgreSQL lets them): the loser
    still names the winner, so whichever updates the notice last, the agent is named."""
    thread = await _conversation(world)
    failed_id = await _failed_reply(world, thread, meta_error(131000, "Something went wrong"))
    [notice] = _failure_notices(world)
    slack = await Slack.build(world, sim)
    posted = await slack.post(notice)
    await slack.click(posted, user=AGENT)  # the winner
    await world.drain()

    real = SqlMessages.by_idempotency_key
    looked: list[str] = []

    async def late(self: SqlMessages, key: str) -> MessageRecord | None:
        looked.append(key)
        return None if len(looked) == 1 else await real(self, key)  # the first look is early

    monkeypatch.setattr(SqlMessages, "by_idempotency_key", late)
    result = await Resends(uow=world.uow, clock=world.clock).resend(
        message_id=failed_id, user=OTHER_AGENT
    )
    assert len(looked) == 2
    assert (result.outcome, result.by) == (ResendOutcome.ALREADY, AGENT)
    await world.drain()
    assert _texts(world) == ["It ships today"]


@pytest.mark.long
async def test_a_new_send_that_fails_again_offers_its_own_retry(
    world: World, sim: SlackSimulator
) -> None:
    thread = await _conversation(world)
    failed_id = await _failed_reply(world, thread, meta_error(130429, "Rate limit hit"))
    [first] = _failure_notices(world)
    slack = await Slack.build(world, sim)
    world.whatsapp.fail_with = meta_error(130429, "Rate limit hit")
    await slack.click(await slack.post(first))
    start = world.clock.now()
    while world.clock.now() - start < RETRY_FOR + timedelta(minutes=10):
        await world.drain()
        world.clock.advance(seconds=30)
    world.whatsapp.fail_with = None
    _, second = _failure_notices(world)
    assert second.next_step == NextStep.RETRY and second.message_id not in (None, failed_id)
    posted = await slack.post(second)
    await slack.click(posted)
    await world.drain()
    assert _texts(world) == ["It ships today"]
    assert slack.line(posted).startswith(f":repeat: Sent again by <@{OTHER_AGENT}>.")
    original = await world.message(failed_id)
    assert world.chat.reactions[str(original.slack_ts)] == ["sent"]


async def test_send_again_after_an_unknown_outcome_says_it_may_arrive_twice(
    world: World, sim: SlackSimulator
) -> None:
    thread = await _conversation(world)
    failed_id = await _failed_reply(world, thread, MetaTransportError("ReadTimeout", sent=True))
    [notice] = _failure_notices(world)
    assert (notice.next_step, notice.message_id) == (NextStep.SEND_AGAIN, failed_id)

    slack = await Slack.build(world, sim)
    posted = await slack.post(notice)
    assert "Maybe not sent" in posted.text and "twice" in posted.text
    button = await slack.click(posted)
    assert button["action_id"] == SEND_AGAIN and "twice" in button["text"]["text"]
    assert "twice" in button["confirm"]["text"]["text"]
    await slack.click(posted)
    await world.drain()
    assert _texts(world) == ["It ships today"]
    assert slack.line(posted) == f":repeat: Already sent again by <@{OTHER_AGENT}>."


async def test_retry_when_the_window_has_closed_meanwhile_sends_nothing_and_says_so(
    world: World, sim: SlackSimulator
) -> None:
    thread = await _conversation(world)
    await _failed_reply(world, thread, meta_error(131000, "Something went wrong"))
    [notice] = _failure_notices(world)
    world.clock.advance(hours=24)  # the customer's window has closed by now

    slack = await Slack.build(world, sim)
    posted = await slack.post(notice)
    await slack.click(posted)
    await slack.click(posted)
    await world.drain()
    assert world.whatsapp.sent == []
    # The agent hears it the way a reply in a closed window is told: once, with templates.
    closed = [n for n in world.chat.notices if n.kind == NoticeKind.WINDOW_CLOSED]
    assert len(closed) == 1 and closed[0].reply_ts == notice.reply_ts
    assert "window is closed" in slack.line(posted)


async def test_retry_sends_the_parts_held_back_behind_a_failed_part(
    world: World, sim: SlackSimulator
) -> None:
    thread = await _conversation(world)
    world.whatsapp.fail_with = meta_error(131000, "Something went wrong")
    result = await world.queue_reply(thread, "word " * 1000)  # 5,000 characters: two parts
    await world.drain()
    await _until_given_up(world)
    world.whatsapp.fail_with = None
    first, second = result.message_ids
    notices = _failure_notices(world)
    assert [n.next_step for n in notices] == [NextStep.RETRY, None]  # the second was held back

    slack = await Slack.build(world, sim)
    await slack.click(await slack.post(notices[0]))
    await world.drain()
    parts = [s["text"] for s in world.whatsapp.sent]
    assert len(parts) == 2 and " ".join(parts).split() == ["word"] * 1000
    post = str((await world.message(first)).slack_ts)
    assert world.chat.reactions[post] == ["sent"]
    assert (await world.message(second)).status == MessageStatus.FAILED  # the old row stays


async def test_send_template_after_the_window_closed_opens_the_template_modal(
    world: World, sim: SlackSimulator
) -> None:
    thread = await _conversation(world)
    await _failed_reply(world, thread, meta_error(131047, "Re-engagement message"))
    [notice] = _failure_notices(world)
    assert notice.next_step == NextStep.SEND_TEMPLATE
    async with world.uow() as uow:
        conversation = await uow.conversations.by_thread(channel=CHANNEL, thread_ts=thread)
    assert conversation is not None

    slack = await Slack.build(world, sim, templates=True)
    posted = await slack.post(notice, conversation_id=conversation.id)
    button = await slack.click(posted)
    assert (button["action_id"], button["value"]) == (OPEN_TEMPLATE_MODAL, str(conversation.id))
    [opened] = [v for v in sim.views() if v["method"] == "views.open"]
    assert ModalState.load(opened["view"]["private_metadata"]).conversation_id == conversation.id
    assert world.whatsapp.sent == []


@pytest.mark.parametrize(
    ("code", "title", "step"),
    [
        (131047, "Re-engagement message", NextStep.SEND_TEMPLATE),
        (131000, "Something went wrong", NextStep.RETRY),
        (131056, "Pair rate limit hit", NextStep.RETRY),
        (131026, "Message undeliverable", None),
    ],
)
async def test_a_late_failed_status_gets_the_same_notice_and_button(
    world: World, sim: SlackSimulator, code: int, title: str, step: NextStep | None
) -> None:
    thread = await _conversation(world)
    at_once_id = await _failed_reply(world, thread, meta_error(code, title))
    late = await world.reply(thread, "Sent, then failed")
    assert late.wamid is not None
    await world.webhook(
        payloads.status(late.wamid, "failed", at=world.clock.now(), error=(code, title))
    )
    await world.drain()

    at_once, later = _failure_notices(world)
    assert (at_once.message_id, later.message_id) == (at_once_id, late.id)
    assert at_once.next_step == later.next_step == step
    slack = await Slack.build(world, sim)
    shown_at_once, shown_later = await slack.post(at_once), await slack.post(later)
    assert shown_later.text == shown_at_once.text
    buttons_at_once, buttons_later = _buttons(shown_at_once), _buttons(shown_later)
    assert len(buttons_later) == (0 if step is None else 1)
    if step == NextStep.RETRY:  # the value names each one's own failed message
        assert buttons_later[0]["value"] == str(late.id)
        buttons_later = [{**buttons_later[0], "value": str(at_once_id)}]
    assert buttons_later == buttons_at_once
    if step == NextStep.RETRY:
        await slack.click(shown_later)
        await world.drain()
        assert _texts(world)[-1] == "Sent, then failed"
        assert world.chat.reactions[str(late.slack_ts)] == ["sent"]  # the ❌ gave way
