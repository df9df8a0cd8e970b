"""Pacing over a real database: Slack's ``Retry-After`` and Meta's throughput error stored as
holds that a second worker process honours, and a backlog of statuses shown in one display.

The "processes" here are two sets of workers, each with its own Slack surface, its own cached
view of the holds and its own pacer, sharing only the database (as two ``wabridge serve
--role worker`` would), against the Slack simulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bridge.domain import MessageStatus
from bridge.errors import DeliveryError
from bridge.jobs import Lane, ShowDelivery
from bridge.pacing import UNPACED
from bridge.usecases import job_handlers
from bridge.usecases.holds import StoredHolds
from bridge.usecases.replies import Replies, ReplyOutcome
from bridge.usecases.statuses import queue_delivery_display
from bridge.workers import JobWorker
from sandbox.slack_sim import SlackSimulator
from slack_app.listeners.messages import posted_at
from slack_app.messages import STAGE_REACTIONS
from slack_app.pacing import SlackPacing, SlackRates
from slack_app.surface import SlackSurface
from storage.models import JobEntry
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0, FakeClock, FakeWhatsApp, meta_error
from tests.integration.world import CHANNEL, RETRY_FOR, World, number_book, storage_of
from wabridge.bootstrap import Workers, build_workers
from whatsapp.pacing import MetaPacing

TOKEN = "xoxb-pacing-test-token"
ADA, BOB = "4915112345678", "4915187654321"


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN, signing_secret="s", echo_bot_messages=False) as sim:
        yield sim


@pytest.fixture
def slack(slack_server: SlackSimulator) -> SlackSimulator:
    slack_server.reset()
    return slack_server


@dataclass
class Process:
    """One worker process: its own surface, holds cache and pacer; the database is shared."""

    workers: Workers
    holds: StoredHolds

    async def drain(self) -> int:
        total = 0
        for _ in range(50):
            ran = await self.workers.inbox.run_once() + await self.workers.jobs.run_once()
            if not ran:
                return total
            total += ran
        raise AssertionError("workers never went idle")


def process(uow: SqlUnitOfWorkFactory, clock: FakeClock, slack: SlackSimulator) -> Process:
    holds = StoredHolds(uow=uow, clock=clock)
    surface = SlackSurface(
        client=AsyncWebClient(token=TOKEN, base_url=slack.url),
        # Unpaced: this is about the holds, which every process reads from the database.
        pacing=SlackPacing(rates=SlackRates(post=UNPACED, tiers={}), holds=holds),
        now=clock.now,
    )
    workers = build_workers(
        storage=storage_of(uow),
        chat=surface,
        whatsapp=FakeWhatsApp(),
        clock=clock,
        numbers=number_book(uow),
        retry_for=RETRY_FOR,
    )
    return Process(workers=workers, holds=holds)


async def webhook(uow: SqlUnitOfWorkFactory, clock: FakeClock, body: bytes) -> None:
    async with uow() as unit:
        await unit.inbox.store(body, received_at=clock.now(), dead_reason=None)
        await unit.commit()


async def jobs(uow: SqlUnitOfWorkFactory, job_type: str) -> list[tuple[str, str | None, int]]:
    """(state, failure reason, seconds from T0 to not_before) of each job of that type."""
    query = (
        select(JobEntry.state, JobEntry.failure_reason, JobEntry.not_before)
        .where(JobEntry.job_type == job_type)
        .order_by(JobEntry.id)
    )
    async with uow.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [(state, reason, round((at - T0).total_seconds())) for state, reason, at in rows]


def ok_calls(slack: SlackSimulator, method: str) -> int:
    return sum(1 for call in slack.calls(method) if call.ok)


# --- the stored holds themselves ------------------------------------------------------------


async def test_a_hold_keeps_the_longer_end_and_ends(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.holds.hold(
            "slack:channel:C1", until=T0 + timedelta(seconds=30), reason="a", now=T0
        )
        await uow.holds.hold(
            "slack:channel:C1", until=T0 + timedelta(seconds=5), reason="b", now=T0
        )
        await uow.holds.hold(
            "slack:reactions.add", until=T0 + timedelta(seconds=5), reason="c", now=T0
        )
        await uow.commit()
    async with uow_factory() as uow:
        held = {h.scope: (h.until, h.reason) for h in await uow.holds.active(now=T0)}
        later = await uow.holds.active(now=T0 + timedelta(seconds=10))
    assert held == {
        "slack:channel:C1": (T0 + timedelta(seconds=30), "a"),
        "slack:reactions.add": (T0 + timedelta(seconds=5), "c"),
    }
    assert [h.scope for h in later] == ["slack:channel:C1"]


async def test_another_process_sees_a_hold_within_its_refresh(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    clock = FakeClock()
    first = StoredHolds(uow=uow_factory, clock=clock)
    second = StoredHolds(uow=uow_factory, clock=clock, refresh=timedelta(seconds=1))
    assert await second.remaining("meta:number:1") == 0.0  # read now, trusted for a second
    await first.hold("meta:number:1", seconds=2, reason="meta 130429")
    assert await first.remaining("meta:number:1") == 2.0
    clock.advance(seconds=1)
    assert await second.remaining("meta:number:1", "other") == 1.0
    clock.advance(seconds=1)
    assert await second.remaining("meta:number:1") == 0.0


async def test_a_steady_flow_of_calls_reads_the_holds_ahead_of_time(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """A call in the second half of the view's second starts a read beside it, so the call
    after it neither waits for a read nor misses a hold set meanwhile."""
    clock = FakeClock()
    first = StoredHolds(uow=uow_factory, clock=clock)
    second = StoredHolds(uow=uow_factory, clock=clock, refresh=timedelta(seconds=1))
    assert await second.remaining("meta:number:1") == 0.0  # read now, trusted for a second
    await first.hold("meta:number:1", seconds=5, reason="meta 130429")
    clock.advance(seconds=0.6)
    assert await second.remaining("meta:number:1") == 0.0  # its view is still the first read
    assert await second.read_ahead()  # the read it started beside itself, now ended
    clock.advance(seconds=0.1)
    assert await second.remaining("meta:number:1") == pytest.approx(4.3)


# --- Slack's Retry-After, across two worker processes ---------------------------------------


async def test_a_channel_held_by_one_worker_is_not_posted_to_by_another(
    uow_factory: SqlUnitOfWorkFactory, slack: SlackSimulator
) -> None:
    clock = FakeClock()
    one, two = process(uow_factory, clock, slack), process(uow_factory, clock, slack)
    slack.rate_limit_next("chat.postMessage", retry_after=30)

    await webhook(uow_factory, clock, payloads.messages(payloads.text("wamid.A", "Hi", at=T0)))
    await one.drain()
    assert [c.ok for c in slack.calls("chat.postMessage")] == [False]  # the 429

    # Another conversation, taken by the other process: the hold is in the database, so
    # it makes no call at all, and its job waits for the hold's end.
    body = payloads.messages(payloads.text("wamid.B", "Hello", at=T0, wa_id=BOB))
    await webhook(uow_factory, clock, body)
    await two.drain()
    assert len(slack.calls("chat.postMessage")) == 1
    assert await jobs(uow_factory, "post_customer_message") == [
        ("pending", "slack:ratelimited", 30),
        ("pending", "slack:ratelimited", 30),
    ]

    clock.advance(seconds=30)
    await two.drain()
    assert [state for state, _, _ in await jobs(uow_factory, "post_customer_message")] == [
        "done",
        "done",
    ]
    parents = slack.top_level(CHANNEL)
    assert len(parents) == 2
    assert sorted(len(slack.thread(CHANNEL, p.ts)) for p in parents) == [1, 1]


async def test_a_held_method_waits_while_others_go_on(
    uow_factory: SqlUnitOfWorkFactory, slack: SlackSimulator
) -> None:
    clock = FakeClock()
    one, two = process(uow_factory, clock, slack), process(uow_factory, clock, slack)
    await one.holds.hold("slack:reactions.add", seconds=60, reason="slack 429: reactions.add")
    # Posts are another method: the second process posts a customer's message at once.
    await webhook(uow_factory, clock, payloads.messages(payloads.text("wamid.A", "Hi", at=T0)))
    await two.drain()
    assert ok_calls(slack, "chat.postMessage") == 2  # the thread's parent, and the message
    assert await two.holds.remaining("slack:reactions.add") == 60.0


# --- a backlog of statuses: one display ------------------------------------------------------


async def test_sent_delivered_and_read_behind_a_backlog_cost_one_display(world: World) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    thread = await world.thread()
    queued = await world.queue_reply(thread, "On it")
    assert queued.outcome == ReplyOutcome.QUEUED
    # Slack's lane is backed up: only WhatsApp's work runs for now.
    whatsapp_only = JobWorker(
        uow=world.uow,
        handlers=job_handlers(
            uow=world.uow, chat=world.chat, whatsapp=world.whatsapp, clock=world.clock
        ),
        clock=world.clock,
        retry_for=RETRY_FOR,
        lanes=[Lane.WHATSAPP],
    )
    while await whatsapp_only.run_once():
        pass
    reply = await world.message(queued.message_ids[0])
    assert reply.status == MessageStatus.SENT and reply.wamid is not None
    for minutes, state in enumerate(("sent", "delivered", "read"), start=1):
        at = T0 + timedelta(minutes=minutes)
        await world.webhook(payloads.status(reply.wamid, state, at=at))
    while await world.workers.inbox.run_once():
        pass

    assert len(await world.job_states("show_delivery")) == 1  # collapsed as they came
    await world.drain()
    ts = str(reply.slack_ts)
    assert [d for d in world.chat.deliveries if d[0] == ts] == [(ts, ["sent", "delivered", "read"])]
    assert world.chat.reactions[ts] == ["sent", "delivered", "read"]
    assert (await world.message(reply.id)).status == MessageStatus.READ


async def test_a_display_already_running_does_not_swallow_a_later_status(world: World) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    reply = await world.reply(await world.thread(), "On it")
    assert reply.wamid is not None
    async with world.uow() as uow:
        assert await queue_delivery_display(uow, reply, now=world.clock.now())
        assert not await queue_delivery_display(uow, reply, now=world.clock.now())
        await uow.commit()
    async with world.uow() as uow:  # a worker takes it: what it shows was read already
        [claimed] = await uow.jobs.claim(
            now=world.clock.now(), limits={Lane.SLACK: 5}, lease=timedelta(seconds=15)
        )
        await uow.commit()
    assert claimed.job_type == ShowDelivery.TYPE
    await world.webhook(payloads.status(reply.wamid, "read", at=T0 + timedelta(minutes=1)))
    while await world.workers.inbox.run_once():
        pass
    states = [state for _, state, _ in await world.job_states("show_delivery")]
    assert states == ["done", "pending", "pending"]  # the running one, and one for "read"


@pytest.mark.skipif(not USE_POSTGRES, reason="row locks across processes are PostgreSQL's job")
async def test_a_display_joined_by_a_status_is_claimed_only_once_that_status_commits(
    world: World,
) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    reply = await world.reply(await world.thread(), "On it")
    now, lease = world.clock.now(), timedelta(seconds=15)
    async with world.uow() as uow:
        assert await queue_delivery_display(uow, reply, now=now)
        await uow.commit()
    async with world.uow() as status, world.uow() as worker:
        # A status joins the waiting display: until it commits, no worker may take the
        # display, which would show what stood before.
        assert not await queue_delivery_display(status, reply, now=now)
        assert await worker.jobs.claim(now=now, limits={Lane.SLACK: 5}, lease=lease) == []
        await status.commit()
    async with world.uow() as worker:
        claimed = await worker.jobs.claim(now=now, limits={Lane.SLACK: 5}, lease=lease)
    assert [c.job_type for c in claimed] == [ShowDelivery.TYPE]


async def test_statuses_behind_a_slack_hold_are_shown_once_each_by_the_other_worker(
    uow_factory: SqlUnitOfWorkFactory, slack: SlackSimulator
) -> None:
    clock = FakeClock()
    one, two = process(uow_factory, clock, slack), process(uow_factory, clock, slack)
    await webhook(uow_factory, clock, payloads.messages(payloads.text("wamid.IN", "Hi", at=T0)))
    await one.drain()
    [parent] = slack.top_level(CHANNEL)
    # The agent's answer in the thread (posted here through the Web API, as Slack shows it).
    agent = AsyncWebClient(token=TOKEN, base_url=slack.url)
    answer = await agent.chat_postMessage(channel=CHANNEL, thread_ts=parent.ts, text="On it")
    replies = Replies(uow=uow_factory, clock=clock, settle=timedelta(0))
    ts = str(answer["ts"])
    queued = await replies.queue(
        channel=CHANNEL,
        thread_ts=parent.ts,
        slack_ts=ts,
        posted_at=posted_at(ts),
        user="U1",
        text="On it",
        event_id=None,
    )
    assert queued.outcome == ReplyOutcome.QUEUED

    slack.rate_limit_next("reactions.add", retry_after=30)
    await one.drain()  # sent to WhatsApp; its display meets the 429
    for minutes, state in enumerate(("delivered", "read"), start=1):
        at = T0 + timedelta(minutes=minutes)
        await webhook(uow_factory, clock, payloads.status("wamid.OUT1", state, at=at))
    await two.drain()  # the statuses join the waiting display; nothing is due yet
    assert [(state, wait) for state, _, wait in await jobs(uow_factory, "show_delivery")] == [
        ("pending", 30)
    ]
    assert len(slack.calls("reactions.add")) == 1

    clock.advance(seconds=30)
    await two.drain()
    added = [c.args.get("name") for c in slack.calls("reactions.add") if c.ok]
    stages = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
    assert added == [STAGE_REACTIONS[stage] for stage in stages]  # each once, in order


# --- Meta's throughput error, across two worker processes -----------------------------------


async def test_a_number_held_after_metas_throughput_error_waits_in_every_process(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    clock = FakeClock()
    holds_one = StoredHolds(uow=uow_factory, clock=clock)
    holds_two = StoredHolds(uow=uow_factory, clock=clock)
    pacing_one, pacing_two = MetaPacing(holds=holds_one), MetaPacing(holds=holds_two)
    await pacing_one.refused(payloads.PHONE_NUMBER_ID, meta_error(130429, "Rate limit hit"))
    with pytest.raises(DeliveryError) as raised:
        await pacing_two.before_send(payloads.PHONE_NUMBER_ID, ADA)
    assert raised.value.retry_after == 2.0
    clock.advance(seconds=2)
    await pacing_two.before_send(payloads.PHONE_NUMBER_ID, ADA)
