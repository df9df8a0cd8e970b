"""The core's use cases and workers over a real database, with fake WhatsApp and Slack."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bridge.domain import MessageStatus, WebhookEvent
from bridge.errors import ChatError, DeliveryError
from bridge.ports import ContactView, MessageRecord
from bridge.relay import Relay, ReplyOutcome
from bridge.workers import InboxWorker, OutboxWorker
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeChat, FakeClock, FakeWhatsApp
from whatsapp.webhooks import WebhookParser

CHANNEL = "C0SUPPORT"


@dataclass
class World:
    uow: SqlUnitOfWorkFactory
    clock: FakeClock
    whatsapp: FakeWhatsApp
    chat: FakeChat
    relay: Relay
    inbox: InboxWorker
    outbox: OutboxWorker

    async def webhook(self, body: bytes) -> None:
        async with self.uow() as uow:
            await uow.inbox.store(body, received_at=self.clock.now(), dead_reason=None)
            await uow.commit()

    async def reply(self, thread: str, text: str = "Hi", slack_ts: str = "1.1") -> MessageRecord:
        """An agent's thread reply, taken all the way through the outbox."""
        result = await self.relay.send_reply(
            channel=CHANNEL,
            thread_ts=thread,
            slack_ts=slack_ts,
            user="U1",
            text=text,
            event_id=None,
        )
        assert result.outcome == ReplyOutcome.QUEUED and result.message_id is not None
        await self.drain()
        async with self.uow() as uow:
            message = await uow.messages.get(result.message_id)
        assert message is not None
        return message

    async def drain(self) -> None:
        """Run both workers until neither finds due work."""
        for _ in range(50):
            if not (await self.inbox.run_once()) + (await self.outbox.run_once()):
                return
        raise AssertionError("workers never went idle")


@pytest.fixture
def world(uow_factory: SqlUnitOfWorkFactory) -> World:
    clock, whatsapp, chat = FakeClock(), FakeWhatsApp(), FakeChat()
    relay = Relay(uow=uow_factory, whatsapp=whatsapp, clock=clock, slack_channel=CHANNEL)
    return World(
        uow=uow_factory,
        clock=clock,
        whatsapp=whatsapp,
        chat=chat,
        relay=relay,
        inbox=InboxWorker(uow=uow_factory, parser=WebhookParser(), relay=relay, clock=clock),
        outbox=OutboxWorker(uow=uow_factory, chat=chat, relay=relay, clock=clock),
    )


async def _conversation_thread(world: World) -> str:
    parents = world.chat.parents()
    assert len(parents) == 1
    return parents[0].ts


async def test_first_message_opens_a_thread_and_posts_the_text(world: World) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.A", "Hello there", at=T0)))
    await world.drain()

    parent = world.chat.parents()[0]
    assert "Ada" in parent.text and "4915112345678" in parent.text
    assert world.chat.thread(parent.ts) == ["Hello there"]
    async with world.uow() as uow:
        [conversation] = await uow.conversations.list_recent(limit=10, offset=0)
        assert conversation.slack_thread_ts == parent.ts
        assert conversation.window_expires_at == T0.replace(day=28)
        [message] = await uow.messages.for_conversation(conversation.id)
        assert message.slack_ts is not None and message.wamid == "wamid.A"


async def test_same_webhook_twice_posts_once(world: World) -> None:
    body = payloads.messages(payloads.text("wamid.A", "Hi", at=T0))
    await world.webhook(body)
    await world.webhook(body)
    await world.drain()
    assert [p.text for p in world.chat.posts if p.thread_ts] == ["Hi"]


async def test_batch_of_three_posts_in_order_on_one_thread(world: World) -> None:
    body = payloads.messages(
        *(payloads.text(f"wamid.{i}", f"part {i}", at=T0) for i in range(1, 4))
    )
    await world.webhook(body)
    await world.drain()
    thread = await _conversation_thread(world)
    assert world.chat.thread(thread) == ["part 1", "part 2", "part 3"]


async def test_later_messages_go_to_the_same_thread(world: World) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.A", "one", at=T0)))
    await world.drain()
    world.clock.advance(hours=30)
    await world.webhook(payloads.messages(payloads.text("wamid.B", "two", at=world.clock.now())))
    await world.drain()
    thread = await _conversation_thread(world)
    assert world.chat.thread(thread) == ["one", "two"]


async def _open_conversation(world: World) -> str:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    return await _conversation_thread(world)


async def test_reply_inside_window_is_sent_and_marks_read(world: World) -> None:
    thread = await _open_conversation(world)
    world.clock.advance(minutes=5)
    message = await world.reply(thread, "On it")
    assert message.status == MessageStatus.SENT and message.wamid is not None
    assert world.whatsapp.sent == [
        {"phone_number_id": payloads.PHONE_NUMBER_ID, "to": "4915112345678", "text": "On it"}
    ]
    assert world.whatsapp.read == ["wamid.IN"]
    assert world.chat.reactions["1.1"] == ["sent"]


async def test_redelivered_slack_event_sends_once(world: World) -> None:
    thread = await _open_conversation(world)
    kwargs = {"channel": CHANNEL, "thread_ts": thread, "slack_ts": "1.1", "user": "U1"}
    first = await world.relay.send_reply(**kwargs, text="Hi", event_id="Ev1")
    again = await world.relay.send_reply(**kwargs, text="Hi", event_id="Ev1")
    other_id = await world.relay.send_reply(**kwargs, text="Hi", event_id="Ev2")
    await world.drain()
    assert first.outcome == ReplyOutcome.QUEUED
    assert again.outcome == other_id.outcome == ReplyOutcome.DUPLICATE
    assert len(world.whatsapp.sent) == 1


async def test_reply_after_window_is_refused_with_a_notice(world: World) -> None:
    thread = await _open_conversation(world)
    world.clock.advance(hours=24, seconds=1)
    result = await world.relay.send_reply(
        channel=CHANNEL, thread_ts=thread, slack_ts="2.2", user="U1", text="Late", event_id="E"
    )
    await world.drain()
    assert result.outcome == ReplyOutcome.WINDOW_CLOSED
    assert world.whatsapp.sent == []
    assert world.chat.thread(thread)[-1] == "notice:window_closed:None"


async def test_reply_in_unknown_thread_sends_nothing(world: World) -> None:
    result = await world.relay.send_reply(
        channel=CHANNEL, thread_ts="9.9", slack_ts="9.10", user="U1", text="?", event_id="E"
    )
    assert result.outcome == ReplyOutcome.NOT_A_CONVERSATION
    assert world.whatsapp.sent == []


async def test_statuses_move_forward_only(world: World) -> None:
    thread = await _open_conversation(world)
    wamid = (await world.reply(thread)).wamid
    assert wamid is not None
    await world.webhook(payloads.status(wamid, "read", at=T0))
    await world.webhook(payloads.status(wamid, "delivered", at=T0))  # late: changes nothing
    await world.drain()
    async with world.uow() as uow:
        message = await uow.messages.by_wamid(wamid)
    assert message is not None and message.status == MessageStatus.READ
    assert world.chat.reactions["1.1"] == ["sent", "delivered", "read"]


async def test_failed_status_reacts_and_explains(world: World) -> None:
    thread = await _open_conversation(world)
    wamid = (await world.reply(thread)).wamid
    assert wamid is not None
    await world.webhook(
        payloads.status(wamid, "failed", at=T0, error=(131047, "Re-engagement message"))
    )
    await world.drain()
    assert "failed" in world.chat.reactions["1.1"]
    assert world.chat.thread(thread)[-1] == "notice:delivery_failed:131047"


async def test_send_error_marks_failed_and_explains(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = DeliveryError(code=131026, title="Undeliverable", transient=False)
    message = await world.reply(thread)
    assert message.status == MessageStatus.FAILED and message.error_code == 131026
    assert world.chat.reactions["1.1"] == ["failed"]
    assert world.chat.thread(thread)[-1] == "notice:delivery_failed:131026"


async def test_status_racing_its_send_is_retried_not_lost(world: World) -> None:
    await world.webhook(payloads.status("wamid.FUTURE", "delivered", at=T0))
    await world.inbox.run_once()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 1  # kept for a later look, not dropped


async def test_slack_rate_limit_delays_and_keeps_order(world: World) -> None:
    world.chat.fail_next.append(ChatError("rate limited", transient=True, retry_after=30))
    body = payloads.messages(payloads.text("wamid.1", "first", at=T0))
    await world.webhook(body)
    await world.webhook(payloads.messages(payloads.text("wamid.2", "second", at=T0)))
    await world.drain()
    assert world.chat.posts == []  # the parent post was refused; nothing jumped the queue
    world.clock.advance(seconds=31)
    await world.drain()
    thread = await _conversation_thread(world)
    assert world.chat.thread(thread) == ["first", "second"]


async def test_crash_after_post_before_commit_does_not_post_twice(world: World) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.A", "Hi", at=T0)))
    await world.inbox.run_once()
    # A worker claims the item, posts, and dies before recording it: simulate by posting
    # through the fake directly and leaving the claim to expire.
    async with world.uow() as uow:
        [item] = await uow.outbox.claim(now=world.clock.now(), limit=1)
        await uow.commit()
    parent = await world.chat.open_thread(
        channel=CHANNEL,
        contact=ContactView(contact_id="4915112345678", name="Ada", business_number="x"),
        key=f"conversation:{item.conversation_id}",
        recheck=False,
    )
    world.clock.advance(minutes=2)  # the claim's lease runs out
    await world.drain()
    assert len(world.chat.parents()) == 1
    assert world.chat.rechecks >= 1
    assert world.chat.thread(parent) == ["Hi"]


async def test_unparseable_webhook_becomes_a_dead_letter(world: World) -> None:
    await world.webhook(b"this is not json")
    await world.drain()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0
    assert world.chat.posts == []


async def test_throttled_send_is_delayed_not_dropped(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = DeliveryError(code=130429, title="Rate limit hit", transient=True)
    message = await world.reply(thread)
    assert message.status == MessageStatus.PENDING  # refused once: a blip, nobody is bothered
    assert "notice:send_delayed:130429" not in world.chat.thread(thread)
    world.clock.advance(seconds=3)
    await world.drain()  # refused again: the agent hears it is queued, not failed
    assert world.chat.thread(thread)[-1] == "notice:send_delayed:130429"
    assert world.chat.reactions.get("1.1") is None

    world.whatsapp.fail_with = None
    world.clock.advance(seconds=5)
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Hi"]
    assert world.chat.reactions["1.1"] == ["sent"]


async def test_throttled_send_gives_up_after_many_tries(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = DeliveryError(code=131000, title="Something", transient=True)
    await world.relay.send_reply(
        channel=CHANNEL, thread_ts=thread, slack_ts="1.1", user="U1", text="Hi", event_id="E"
    )
    for _ in range(10):
        world.clock.advance(minutes=11)
        await world.drain()
    assert world.chat.reactions["1.1"] == ["failed"]
    assert world.chat.thread(thread)[-1] == "notice:delivery_failed:131000"


async def test_window_closing_while_a_send_waits_fails_it(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = DeliveryError(code=131056, title="Pair rate", transient=True)
    world.clock.advance(hours=23, minutes=59, seconds=59)
    await world.relay.send_reply(
        channel=CHANNEL, thread_ts=thread, slack_ts="1.1", user="U1", text="Hi", event_id="E"
    )
    world.whatsapp.fail_with = None
    world.clock.advance(minutes=1)
    await world.drain()
    assert world.whatsapp.sent == []
    assert world.chat.thread(thread)[-1] == "notice:delivery_failed:131047"


async def test_slack_work_does_not_wait_behind_a_throttled_send(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = DeliveryError(code=130429, title="Rate limit hit", transient=True)
    await world.relay.send_reply(
        channel=CHANNEL, thread_ts=thread, slack_ts="1.1", user="U1", text="Hi", event_id="E"
    )
    at = world.clock.now()
    await world.webhook(payloads.messages(payloads.text("wamid.NEXT", "still there?", at=at)))
    await world.drain()
    assert "still there?" in world.chat.thread(thread)


class _ExplodingParser:
    """The real parser, except that one body makes it fail as an unexpected bug would."""

    def __init__(self) -> None:
        self._real = WebhookParser()

    def parse(self, body: bytes) -> list[WebhookEvent]:
        if body == b'{"explode": true}':
            raise RuntimeError("a bug")
        return self._real.parse(body)


async def test_one_failing_webhook_does_not_hold_up_its_batch(world: World) -> None:
    inbox = InboxWorker(
        uow=world.uow, parser=_ExplodingParser(), relay=world.relay, clock=world.clock
    )
    await world.webhook(payloads.messages(payloads.text("wamid.1", "before", at=T0)))
    await world.webhook(b'{"explode": true}')
    await world.webhook(payloads.messages(payloads.text("wamid.2", "after", at=T0)))
    assert await inbox.run_once() == 3
    await world.drain()
    thread = await _conversation_thread(world)
    assert world.chat.thread(thread) == ["before", "after"]
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 1  # the failing one waits for its retry
    for _ in range(12):  # and is set aside as a dead letter once retries run out
        world.clock.advance(minutes=10)
        await inbox.run_once()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0


async def test_quick_replies_reach_the_customer_in_order(world: World) -> None:
    thread = await _open_conversation(world)
    # Concurrent, as bolt runs the listeners of events that arrived in order.
    await asyncio.gather(
        *(
            world.relay.send_reply(
                channel=CHANNEL,
                thread_ts=thread,
                slack_ts=f"1.{n}",
                user="U1",
                text=f"part {n}",
                event_id=None,
            )
            for n in range(1, 6)
        )
    )
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == [f"part {n}" for n in range(1, 6)]


async def test_an_older_message_arriving_late_never_shortens_the_window(world: World) -> None:
    newer, older = T0 + timedelta(hours=5), T0
    await world.webhook(payloads.messages(payloads.text("wamid.NEW", "later", at=newer)))
    await world.webhook(payloads.messages(payloads.text("wamid.OLD", "earlier", at=older)))
    await world.drain()
    async with world.uow() as uow:
        [conversation] = await uow.conversations.list_recent(limit=5, offset=0)
    assert conversation.window_expires_at == newer + timedelta(hours=24)
    assert conversation.last_message_at == newer
    assert conversation.total_messages == 2
