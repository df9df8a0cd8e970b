"""The flows over a real database, with fake WhatsApp and Slack: a customer writes, an agent
replies (statuses coming back: ``test_statuses.py``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bridge.domain import MessageStatus, WebhookEvent
from bridge.ports import Unobserved
from bridge.usecases.replies import ReplyOutcome
from bridge.workers import InboxWorker, Rush
from tests import payloads
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0, meta_error
from tests.integration.world import World
from whatsapp.webhooks import WebhookParser


async def _open_conversation(world: World) -> str:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    return await world.thread()


# --- a customer writes -------------------------------------------------------------------------


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


async def test_post_keys_are_unique_across_installations(world: World) -> None:
    """A reset database numbers its rows from 1 again: keys must not repeat with them."""
    await world.webhook(payloads.messages(payloads.text("wamid.A", "Hi", at=T0)))
    await world.drain()
    keys = [p.key for p in world.chat.posts]
    assert len(set(keys)) == len(keys) == 2
    assert all(len(key) == 32 and not key.isdigit() for key in keys)
    assert not any(key.startswith(("conversation:", "message:")) for key in keys)


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
    assert world.chat.thread(await world.thread()) == ["part 1", "part 2", "part 3"]


async def test_later_messages_go_to_the_same_thread(world: World) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.A", "one", at=T0)))
    await world.drain()
    world.clock.advance(hours=30)
    await world.webhook(payloads.messages(payloads.text("wamid.B", "two", at=world.clock.now())))
    await world.drain()
    assert world.chat.thread(await world.thread()) == ["one", "two"]


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


async def test_unparseable_webhook_becomes_a_dead_letter(world: World) -> None:
    await world.webhook(b"this is not json")
    await world.drain()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0
        [dead] = await uow.inbox.failed(limit=5)
    assert dead.reason == "unparseable"
    assert world.chat.posts == []


async def test_the_inbox_asks_for_another_pass_only_after_a_full_batch(world: World) -> None:
    inbox = InboxWorker(
        uow=world.uow, parser=WebhookParser(), clock=world.clock, numbers=world.numbers, batch=2
    )
    for n in range(3):
        await world.webhook(payloads.messages(payloads.text(f"wamid.{n}", f"m{n}", at=T0)))
    assert await inbox.step()  # two of the three: there may be more
    assert not await inbox.step()  # the last one: drained, the loop may wait for a wake
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0


async def test_while_webhook_requests_wait_the_inbox_takes_a_quarter_batch_a_step(
    world: World,
) -> None:
    """Each step then holds the process a quarter as long; the rest waits, in order."""
    rush = Rush(crowd=8)
    inbox = InboxWorker(
        uow=world.uow,
        parser=WebhookParser(),
        clock=world.clock,
        numbers=world.numbers,
        batch=8,
        rush=rush,
    )
    for n in range(5):
        await world.webhook(payloads.messages(payloads.text(f"wamid.{n}", f"m{n}", at=T0)))
    for _ in range(8):
        rush.arrived()
    assert await inbox.step()  # two of five: a full (quarter) batch, so there may be more
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 3
    for _ in range(8):
        rush.answered()
    assert not await inbox.step()  # the other three, in one step: short of a batch
    await world.drain()
    assert world.chat.thread(await world.thread()) == ["m0", "m1", "m2", "m3", "m4"]


class _CountingDeadLetters(Unobserved):
    def __init__(self) -> None:
        self.dead = 0

    def webhook_dead_lettered(self) -> None:
        self.dead += 1


async def test_a_dead_lettered_webhook_is_counted_once_even_when_its_batch_is_taken_again(
    world: World,
) -> None:
    counted = _CountingDeadLetters()
    inbox = InboxWorker(
        uow=world.uow,
        parser=_ExplodingParser(),
        clock=world.clock,
        numbers=world.numbers,
        observer=counted,
    )
    await world.webhook(b"this is not json")
    await world.webhook(payloads.messages(payloads.text("wamid.1", "fine", at=T0)))
    await world.webhook(b'{"explode": true}')  # the batch rolls back; taken one by one
    assert await inbox.run_once() == 3
    assert counted.dead == 1
    async with world.uow() as uow:
        assert [d.reason for d in await uow.inbox.failed(limit=5)] == ["unparseable"]


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
        uow=world.uow, parser=_ExplodingParser(), clock=world.clock, numbers=world.numbers
    )
    await world.webhook(payloads.messages(payloads.text("wamid.1", "before", at=T0)))
    await world.webhook(b'{"explode": true}')
    await world.webhook(payloads.messages(payloads.text("wamid.2", "after", at=T0)))
    assert await inbox.run_once() == 3
    await world.drain()
    assert world.chat.thread(await world.thread()) == ["before", "after"]
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 1  # the failing one waits for its retry
    for _ in range(12):  # and ends failed, with its reason, once retries run out
        world.clock.advance(minutes=10)
        await inbox.run_once()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0
        [dead] = await uow.inbox.failed(limit=5)
    assert dead.reason == "unexpected:RuntimeError" and "a bug" in dead.error


class _AnotherWorkerTakesTheLast:
    """The real parser, except that reading ``first`` fails the first time (as a deadlock
    between two workers' batches does), and the second time, another worker has claimed the
    last webhook stored, as it may once the failed batch let go of its rows."""

    def __init__(self, dsn: str, first: bytes) -> None:
        self._real = WebhookParser()
        self._dsn = dsn
        self._first = first
        self._reads = 0
        self._other: psycopg.Connection | None = None

    def parse(self, body: bytes) -> list[WebhookEvent]:
        if body == self._first:
            self._reads += 1
            if self._reads == 1:
                raise RuntimeError("deadlock detected")
            if self._reads == 2:
                self._other = psycopg.connect(self._dsn)
                self._other.execute(
                    "SELECT id FROM webhook_inbox ORDER BY id DESC LIMIT 1 FOR UPDATE"
                )
        return self._real.parse(body)

    def release(self) -> None:
        if self._other is not None:
            self._other.close()


@pytest.mark.skipif(not USE_POSTGRES, reason="row locks across processes are PostgreSQL's job")
async def test_a_failed_batch_leaves_its_webhooks_that_another_worker_took_to_that_worker(
    world: World,
) -> None:
    # Found by the run of two web, two worker and two scheduler processes: after a batch
    # failed, its worker read each webhook again without claiming it, while the other worker
    # had claimed it meanwhile; both applied it at once and deadlocked again.
    first = payloads.messages(payloads.text("wamid.1", "first", at=T0))
    await world.webhook(first)
    await world.webhook(payloads.messages(payloads.text("wamid.2", "second", at=T0)))
    url = make_url(world.uow.engine.url).set(drivername="postgresql")
    parser = _AnotherWorkerTakesTheLast(url.render_as_string(hide_password=False), first)
    inbox = InboxWorker(uow=world.uow, parser=parser, clock=world.clock, numbers=world.numbers)
    try:
        # Without the claim, this worker would wait on the other's lock (and here, forever).
        assert await asyncio.wait_for(inbox.run_once(), timeout=10) == 2
        assert await world.inbox_states() == [("done", None), ("pending", None)]
    finally:
        parser.release()
    await world.drain()
    assert world.chat.thread(await world.thread()) == ["first", "second"]


# --- an agent replies --------------------------------------------------------------------------


async def test_reply_inside_window_is_sent_and_marks_read(world: World) -> None:
    thread = await _open_conversation(world)
    world.clock.advance(minutes=5)
    message = await world.reply(thread, "On it")
    assert message.status == MessageStatus.SENT and message.wamid is not None
    assert world.whatsapp.sent == [
        {"phone_number_id": payloads.PHONE_NUMBER_ID, "to": "4915112345678", "text": "On it"}
    ]
    assert world.whatsapp.read == ["wamid.IN"]
    assert message.slack_ts is not None
    assert world.chat.reactions[message.slack_ts] == ["sent"]


async def test_redelivered_slack_event_sends_once(world: World) -> None:
    thread = await _open_conversation(world)
    first = await world.queue_reply(thread, slack_ts="1.1", event_id="Ev1")
    again = await world.queue_reply(thread, slack_ts="1.1", event_id="Ev1")
    other_id = await world.queue_reply(thread, slack_ts="1.1", event_id="Ev2")
    await world.drain()
    assert first.outcome == ReplyOutcome.QUEUED
    assert again.outcome == other_id.outcome == ReplyOutcome.DUPLICATE
    assert len(world.whatsapp.sent) == 1


async def test_reply_after_window_is_refused_with_a_notice(world: World) -> None:
    thread = await _open_conversation(world)
    world.clock.advance(hours=24, seconds=1)
    result = await world.queue_reply(thread, "Late")
    await world.drain()
    assert result.outcome == ReplyOutcome.WINDOW_CLOSED
    assert world.whatsapp.sent == []
    assert world.chat.thread(thread)[-1] == "notice:window_closed:None"


async def test_reply_in_unknown_thread_sends_nothing(world: World) -> None:
    result = await world.queue_reply("9.9", "?")
    assert result.outcome == ReplyOutcome.NOT_A_CONVERSATION
    assert world.whatsapp.sent == []


async def test_reply_empty_after_conversion_is_refused_before_any_call(world: World) -> None:
    thread = await _open_conversation(world)
    result = await world.queue_reply(thread, "  \n ")
    await world.drain()
    assert result.outcome == ReplyOutcome.EMPTY
    assert world.whatsapp.calls == 0
    assert world.chat.thread(thread)[-1] == "notice:reply_empty:None"
    assert await world.job_states("send_reply") == []


async def test_long_reply_goes_out_in_ordered_parts_and_the_thread_says_so(world: World) -> None:
    thread = await _open_conversation(world)
    paragraphs = [f"Paragraph {n}. " + "word " * 300 for n in range(1, 5)]  # ~6,000 characters
    text = "\n\n".join(paragraphs)
    result = await world.queue_reply(thread, text)
    await world.drain()
    sent = [m["text"] for m in world.whatsapp.sent]
    assert len(sent) == len(result.message_ids) == 2
    assert all(len(part) <= 4096 for part in sent)
    assert sent[0].startswith("Paragraph 1.") and sent[1].startswith("Paragraph 3.")
    assert " ".join(sent).split() == text.split()
    assert "notice:reply_split:None" in world.chat.thread(thread)
    # Both parts show on the agent's one Slack message.
    messages = [await world.message(i) for i in result.message_ids]
    assert {m.slack_ts for m in messages} == {messages[0].slack_ts}
    assert world.chat.reactions[str(messages[0].slack_ts)] == ["sent"]


async def test_quick_replies_reach_the_customer_in_order(world: World) -> None:
    thread = await _open_conversation(world)
    # Concurrent, as bolt runs the listeners of events that arrived in order.
    stamps = [world.next_slack_ts() for _ in range(5)]
    await asyncio.gather(
        *(world.queue_reply(thread, f"part {n}", slack_ts=ts) for n, ts in enumerate(stamps, 1))
    )
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == [f"part {n}" for n in range(1, 6)]


async def test_a_reply_stored_late_still_goes_first_when_it_was_written_first(
    uow_factory: object,
) -> None:
    """Two listeners (or processes) may store quick replies in either order: sends follow
    Slack's own timestamps, and the settle time gives the straggler its place."""
    from storage.uow import SqlUnitOfWorkFactory

    assert isinstance(uow_factory, SqlUnitOfWorkFactory)
    world = World.build(uow_factory, settle=timedelta(milliseconds=250))
    thread = await _open_conversation(world)
    first, second = world.next_slack_ts(), world.next_slack_ts()
    await world.queue_reply(thread, "written second", slack_ts=second)
    assert await world.workers.jobs.run_once() == 0  # settling
    await world.queue_reply(thread, "written first", slack_ts=first)
    world.clock.advance(seconds=1)
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["written first", "written second"]


async def test_a_reply_that_arrives_alone_goes_at_once(uow_factory: object) -> None:
    """Nothing else was being received from Slack: no straggler can take its place, so the
    reply does not wait out the settle time."""
    from storage.uow import SqlUnitOfWorkFactory

    assert isinstance(uow_factory, SqlUnitOfWorkFactory)
    world = World.build(uow_factory, settle=timedelta(milliseconds=250))
    thread = await _open_conversation(world)
    await world.queue_reply(thread, "alone", others_arriving=False)
    assert await world.workers.jobs.run_once() == 1  # the clock has not moved
    assert [m["text"] for m in world.whatsapp.sent] == ["alone"]


async def test_always_settle_makes_even_a_lone_reply_wait(uow_factory: object) -> None:
    """Several web processes: the straggler may be in another one (WABRIDGE_REPLY_SETTLE)."""
    from bridge.usecases.replies import Replies
    from storage.uow import SqlUnitOfWorkFactory

    assert isinstance(uow_factory, SqlUnitOfWorkFactory)
    world = World.build(uow_factory)
    world.replies = Replies(
        uow=uow_factory,
        clock=world.clock,
        settle=timedelta(milliseconds=250),
        always_settle=True,
    )
    thread = await _open_conversation(world)
    first, second = world.next_slack_ts(), world.next_slack_ts()
    await world.queue_reply(thread, "written second", slack_ts=second, others_arriving=False)
    assert await world.workers.jobs.run_once() == 0  # settling
    await world.queue_reply(thread, "written first", slack_ts=first, others_arriving=False)
    world.clock.advance(seconds=1)
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["written first", "written second"]


async def test_send_error_marks_failed_and_explains(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = meta_error(131026, "Undeliverable")
    message = await world.reply(thread)
    assert message.status == MessageStatus.FAILED and message.error_code == 131026
    assert world.chat.reactions[str(message.slack_ts)] == ["failed"]
    assert world.chat.thread(thread)[-1] == "notice:delivery_failed:131026"
    assert await world.job_states("send_reply") == [("send_reply", "failed", "meta:131026")]


async def test_a_payload_meta_would_refuse_fails_at_once_without_a_retry(world: World) -> None:
    from bridge.domain import DeliveryProblem, FailureKind
    from bridge.errors import DeliveryError

    thread = await _open_conversation(world)
    world.whatsapp.fail_with = DeliveryError(
        code=None,
        title="WhatsApp would refuse this message",
        kind=FailureKind.PERMANENT,
        problem=DeliveryProblem.INVALID_MESSAGE,
        reason="meta:invalid_payload",
    )
    message = await world.reply(thread)
    assert world.whatsapp.calls == 1  # no retry
    assert message.status == MessageStatus.FAILED
    assert await world.job_states("send_reply") == [
        ("send_reply", "failed", "meta:invalid_payload")
    ]


async def test_first_of_two_quick_replies_answered_500_keeps_its_place(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_next.append(meta_error(131000, "Something went wrong", http_status=500))
    await world.queue_reply(thread, "first")
    await world.queue_reply(thread, "second")
    await world.drain()
    assert world.whatsapp.sent == []  # the second waits behind the first's retry
    world.clock.advance(seconds=5)
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["first", "second"]


async def test_throttled_send_is_delayed_not_dropped(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = meta_error(130429, "Rate limit hit")
    result = await world.queue_reply(thread)
    await world.drain()
    message = await world.message(result.message_ids[0])
    assert message.status == MessageStatus.PENDING  # refused once: a blip, nobody is bothered
    assert "notice:send_delayed:130429" not in world.chat.thread(thread)
    world.clock.advance(seconds=3)
    await world.drain()  # refused again: the agent hears it is queued, not failed
    assert world.chat.thread(thread)[-1] == "notice:send_delayed:130429"
    assert world.chat.reactions.get(str(message.slack_ts)) is None

    world.whatsapp.fail_with = None
    world.clock.advance(seconds=10)
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Hi"]
    assert world.chat.reactions[str(message.slack_ts)] == ["sent"]


async def test_window_closing_while_a_send_waits_fails_it(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_next.append(meta_error(131056, "Pair rate"))
    world.clock.advance(hours=23, minutes=59, seconds=59)
    await world.queue_reply(thread)
    await world.drain()
    world.clock.advance(minutes=1)
    await world.drain()
    assert world.whatsapp.sent == []
    assert world.chat.thread(thread)[-1] == "notice:delivery_failed:None"
    assert await world.job_states("send_reply") == [("send_reply", "failed", "window_closed")]


async def test_slack_work_does_not_wait_behind_a_throttled_send(world: World) -> None:
    thread = await _open_conversation(world)
    world.whatsapp.fail_with = meta_error(130429, "Rate limit hit")
    await world.queue_reply(thread)
    at = world.clock.now()
    await world.webhook(payloads.messages(payloads.text("wamid.NEXT", "still there?", at=at)))
    await world.drain()
    assert "still there?" in world.chat.thread(thread)
