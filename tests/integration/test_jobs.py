"""The job rules over a real database: every job ends, a failed job never holds up the work
behind it, order holds through retries, outcomes are fenced by the lease."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import event

from bridge.domain import AccountEventKind, MessageStatus, OperatorNotice
from bridge.jobs import ARRIVALS_PER_WEBHOOK, Lane, PostOperatorNotice
from bridge.usecases.deadletters import DeadLetters
from bridge.workers import JobWorker
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, slack_error, transient_chat_error
from tests.integration.world import RETRY_FOR, World


async def _customer_writes(world: World, wamid: str, text: str) -> None:
    await world.webhook(payloads.messages(payloads.text(wamid, text, at=world.clock.now())))


async def test_a_reaction_slack_refuses_for_good_fails_alone(world: World) -> None:
    """``reactions.add`` answering message_not_found (the agent deleted the message) used to
    retry for ever at the head of the thread's queue, holding every later customer message."""
    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    world.chat.reactions_fail_with = slack_error("message_not_found")
    await world.reply(thread, "Hello!")
    await _customer_writes(world, "wamid.2", "Are you there?")
    await _customer_writes(world, "wamid.3", "Hello??")
    await world.drain()
    assert world.chat.thread(thread) == ["Hi", "Are you there?", "Hello??"]
    assert await world.job_states("show_delivery") == [
        ("show_delivery", "failed", "slack:message_not_found")
    ]


async def test_a_cosmetic_job_retrying_never_blocks_a_customer_message(world: World) -> None:
    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    world.chat.reactions_fail_with = transient_chat_error()
    await world.reply(thread, "Hello!")
    await _customer_writes(world, "wamid.2", "Thanks")
    await world.drain()
    assert world.chat.thread(thread)[-1] == "Thanks"
    assert await world.job_states("show_delivery") == [
        ("show_delivery", "pending", "slack:internal_error")
    ]


async def test_a_customer_message_slack_refuses_leaves_a_placeholder(world: World) -> None:
    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    world.chat.customer_posts_fail_with = slack_error("msg_too_long")
    await _customer_writes(world, "wamid.2", "x" * 50_000)
    await world.drain()
    world.chat.customer_posts_fail_with = None
    await _customer_writes(world, "wamid.3", "And another thing")
    await world.drain()
    assert world.chat.thread(thread) == [
        "Hi",
        "notice:customer_message_missing:None",
        "And another thing",
    ]
    [(_, state, reason)] = [j for j in await world.job_states() if j[1] == "failed"]
    assert (state, reason) == ("failed", "slack:msg_too_long")


async def test_a_transient_failure_is_retried_with_backoff_then_ends_failed(world: World) -> None:
    await _customer_writes(world, "wamid.1", "Hi")
    world.chat.fail_next.extend(transient_chat_error() for _ in range(1000))
    tries = 0
    while world.clock.now() - T0 < RETRY_FOR + timedelta(minutes=10):
        await world.drain()
        tries += 1
        world.clock.advance(seconds=30)
    states = await world.job_states("post_customer_message")
    assert states == [("post_customer_message", "failed", "slack:internal_error")]
    async with world.uow() as uow:
        [job] = [j for j in await uow.jobs.failed(limit=5) if j.job_type == "post_customer_message"]
    assert "gave up after retrying for 1:00:00" in job.error
    # Capped exponential backoff: far fewer tries than one per drain.
    assert 8 < job.attempts < tries / 3


async def test_order_holds_through_a_retry(world: World) -> None:
    world.chat.fail_next.append(transient_chat_error())
    for n in range(1, 4):
        await _customer_writes(world, f"wamid.{n}", f"message {n}")
    await world.drain()
    assert world.chat.posts == []  # the first (and its parent) waits; nothing jumps it
    world.clock.advance(seconds=5)
    await world.drain()
    assert world.chat.thread(await world.thread()) == ["message 1", "message 2", "message 3"]


async def test_slack_auth_error_pauses_slack_work_logs_once_and_resumes(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.workers")
    world.chat.fail_next.extend(slack_error("token_revoked") for _ in range(2))
    for n in range(1, 4):
        await _customer_writes(world, f"wamid.{n}", f"message {n}")
    await world.drain()
    assert await world.paused() == [Lane.SLACK]
    for _ in range(3):  # nothing is claimed while paused, however often the worker looks
        await world.drain()
    assert world.chat.posts == []
    world.clock.advance(seconds=11)
    await world.drain()  # one probe: refused again, still paused, no new log line
    assert await world.paused() == [Lane.SLACK]
    assert len([r for r in caplog.records if "paused" in r.getMessage()]) == 1
    assert all(state == "pending" for _, state, _ in await world.job_states())

    world.clock.advance(seconds=11)  # the token is fixed: the next probe succeeds
    await world.drain()
    assert await world.paused() == []
    assert world.chat.thread(await world.thread()) == ["message 1", "message 2", "message 3"]
    assert len([r for r in caplog.records if "resumed" in r.getMessage()]) == 1


async def test_whatsapp_auth_error_pauses_sends_but_not_slack(world: World) -> None:
    from tests.fakes import meta_error

    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    world.whatsapp.fail_with = meta_error(190, "Access token has expired", http_status=401)
    result = await world.queue_reply(thread, "Hello")
    await world.drain()
    assert await world.paused() == [Lane.WHATSAPP]
    await _customer_writes(world, "wamid.2", "Still here")
    await world.drain()
    assert world.chat.thread(thread)[-1] == "Still here"
    message = await world.message(result.message_ids[0])
    assert message.status == MessageStatus.PENDING  # kept, not failed
    world.whatsapp.fail_with = None
    world.clock.advance(seconds=11)
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Hello"]
    assert await world.paused() == []


async def test_an_expired_lease_never_leads_to_a_second_send(world: World) -> None:
    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    result = await world.queue_reply(thread, "Only once")
    world.whatsapp.hold = asyncio.Event()
    stuck = asyncio.create_task(world.workers.jobs.run_once())  # claims, starts the send, hangs
    await asyncio.wait_for(world.whatsapp.sending.wait(), timeout=10)

    world.clock.advance(seconds=20)  # the first worker's lease runs out
    other = world.other_worker()
    assert await other.run_once() >= 1  # takes the job over
    world.whatsapp.hold.set()  # the first send completes after all
    await stuck
    await world.drain()

    assert [m["text"] for m in world.whatsapp.sent] == ["Only once"]
    assert world.whatsapp.calls == 1  # the second holder did not send blindly
    assert await world.job_states("send_reply") == [("send_reply", "failed", "unknown_outcome")]
    assert "notice:delivery_failed:None" in world.chat.thread(thread)
    # What really happened outside is recorded: the reply did go out.
    message = await world.message(result.message_ids[0])
    assert message.wamid is not None and message.status == MessageStatus.SENT


async def test_a_worker_whose_lease_was_taken_over_records_nothing(world: World) -> None:
    await _customer_writes(world, "wamid.1", "Hi")
    await world.workers.inbox.run_once()
    async with world.uow() as uow:
        [first] = await uow.jobs.claim(
            now=world.clock.now(), limits=dict.fromkeys(Lane, 1), lease=timedelta(seconds=15)
        )
        await uow.commit()
    world.clock.advance(seconds=16)
    async with world.uow() as uow:
        [second] = await uow.jobs.claim(
            now=world.clock.now(), limits=dict.fromkeys(Lane, 1), lease=timedelta(seconds=15)
        )
        await uow.commit()
    assert second.id == first.id and second.lease_token != first.lease_token
    async with world.uow() as uow:
        now = world.clock.now()
        assert not await uow.jobs.finish(first.id, first.lease_token, now=now)
        assert not await uow.jobs.fail(first.id, first.lease_token, now=now, reason="x", error="x")
        assert not await uow.jobs.extend(first.id, first.lease_token, until=now)
        assert await uow.jobs.finish(second.id, second.lease_token, now=now)
        await uow.commit()


async def test_a_crash_after_a_post_before_its_record_does_not_post_twice(world: World) -> None:
    await _customer_writes(world, "wamid.A", "Hi")
    await world.workers.inbox.run_once()
    # A worker claims the job, posts the parent, and dies before recording it.
    async with world.uow() as uow:
        [job] = await uow.jobs.claim(
            now=world.clock.now(), limits=dict.fromkeys(Lane, 1), lease=timedelta(seconds=15)
        )
        conversation = await uow.conversations.get(job.conversation_id)
        await uow.commit()
    assert conversation is not None
    from bridge.ports import ContactView

    await world.chat.open_thread(
        channel=conversation.slack_channel,
        contact=ContactView(contact_id="4915112345678", name="Ada", business_number="x"),
        key=conversation.uid,
        recheck_since=None,
    )
    world.clock.advance(minutes=2)  # the claim's lease runs out
    await world.drain()
    assert len(world.chat.parents()) == 1
    assert world.chat.rechecks >= 1
    assert world.chat.thread(world.chat.parents()[0].ts) == ["Hi"]


async def test_a_failed_job_is_replayed_in_its_place(world: World) -> None:
    world.chat.customer_posts_fail_with = slack_error("invalid_blocks")
    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    letters = DeadLetters(uow=world.uow, clock=world.clock)
    [letter] = [d for d in await letters.list() if d.kind == "post_customer_message"]
    assert letter.reason == "slack:invalid_blocks" and letter.ref.startswith("job:")
    world.chat.customer_posts_fail_with = None
    assert await letters.replay(letter.ref)
    assert not await letters.replay(letter.ref)  # not failed any more
    await world.drain()
    assert "Hi" in world.chat.thread(await world.thread())
    assert [d.ref for d in await letters.list()] == []


async def test_a_job_this_version_cannot_read_ends_failed(world: World) -> None:
    from sqlalchemy import text

    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    async with world.uow.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO jobs (uid, conversation_id, lane, job_type, payload, blocking, seq,"
                " arrival, state, attempts, not_before, call_started, created_at) SELECT 'u1',"
                " id, 'slack', 'from_the_future', '{}', 1 = 1, 0, 0, 'pending', 0, created_at,"
                " 1 = 0, created_at FROM conversations"
            )
        )
    await world.drain()
    assert ("from_the_future", "failed", "undecodable") in await world.job_states()


def _worker_with_slots(world: World, slots: int) -> JobWorker:
    """A job worker of its own on the world's database, with ``slots`` per lane."""
    from bridge.usecases import job_handlers

    return JobWorker(
        uow=world.uow,
        handlers=job_handlers(
            uow=world.uow, chat=world.chat, whatsapp=world.whatsapp, clock=world.clock
        ),
        clock=world.clock,
        retry_for=RETRY_FOR,
        concurrency=slots,
    )


async def test_the_job_loop_asks_for_another_pass_only_when_a_lane_filled_its_slots(
    world: World,
) -> None:
    worker = _worker_with_slots(world, 2)
    for n in range(3):  # three customers: three threads, whose first posts may go together
        body = payloads.text(f"wamid.{n}", f"m{n}", at=T0, wa_id=f"4915100000{n}")
        await world.webhook(payloads.messages(body))
    await world.workers.inbox.run_once()
    world.chat.hold = asyncio.Event()
    assert await worker.step()  # two slots, two posts started: more may be due
    assert worker.running == 2
    world.chat.hold.set()
    await worker.wind_down()
    while True:
        more = await worker.step()
        started = worker.running
        await worker.wind_down()
        if not more:
            break
    # The pass that said "nothing more" had started work: fewer jobs than its free slots.
    # (In service, that job's end wakes the loop for what it made due: the thread's last
    # window line.)
    assert started == 1
    await world.drain()
    assert {state for _, state, _ in await world.job_states()} == {"done"}
    assert sorted(p.text for p in world.chat.posts if p.text.startswith("m")) == ["m0", "m1", "m2"]


async def test_slow_slack_posts_never_keep_a_whatsapp_send_from_starting(world: World) -> None:
    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    # One slot per lane, and Slack stuck on a post of another customer's message.
    worker = _worker_with_slots(world, 1)
    world.chat.hold = asyncio.Event()
    await _customer_writes(world, "wamid.2", "Still there?")
    await world.workers.inbox.run_once()
    assert await worker.step()  # the Slack slot is taken, and stuck
    assert worker.running == 1
    await world.queue_reply(thread, "Yes!")
    assert await worker.step()  # the WhatsApp slot is free
    assert worker.running == 2
    await asyncio.wait_for(world.whatsapp.sending.wait(), timeout=10)
    world.chat.hold.set()
    await worker.wind_down()
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Yes!"]
    assert world.chat.thread(thread)[-1] == "Still there?"


async def test_while_slack_is_slow_twenty_customers_posts_are_under_way_at_once(
    world: World,
) -> None:
    """A post holds its slot through Slack's answer: with a handful of slots, a slow Slack
    kept everyone else's message queued behind a few calls (at 8 slots and 40 ms a call, a
    process posted at most 200 messages a second, whatever its CPU)."""
    for n in range(20):
        body = payloads.text(f"wamid.{n}", f"m{n}", at=T0, wa_id=f"49151000000{n:02d}")
        await world.webhook(payloads.messages(body))
    await world.workers.inbox.run_once()
    world.chat.hold = asyncio.Event()
    await world.workers.jobs.step()
    assert world.workers.jobs.running == 20
    world.chat.hold.set()
    await world.workers.jobs.wind_down()
    await world.drain()
    posted = sorted(p.text for p in world.chat.posts if p.text.startswith("m"))
    assert posted == sorted(f"m{n}" for n in range(20))


async def test_a_job_ends_failed_even_when_its_handler_cannot_react(world: World) -> None:
    from bridge.domain import FailureKind
    from bridge.errors import ChatError
    from bridge.jobs import JobFailure, JobHandler, ShowDelivery
    from bridge.ports import UnitOfWork
    from bridge.workers import JobWorker

    class Refused(JobHandler[ShowDelivery]):
        async def run(self, job: ShowDelivery, ctx: object) -> None:
            raise ChatError("gone", kind=FailureKind.PERMANENT, error="message_not_found")

        async def failed(self, uow: UnitOfWork, job: ShowDelivery, failure: JobFailure) -> None:
            raise RuntimeError("a bug in the reaction to the failure")

    await _customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    async with world.uow() as uow:
        [conversation] = await uow.conversations.list_recent(limit=1, offset=0)
        await uow.jobs.enqueue(ShowDelivery(conversation_id=conversation.id, message_id=1), now=T0)
        await uow.commit()
    worker = JobWorker(
        uow=world.uow, handlers={ShowDelivery: Refused()}, clock=world.clock, retry_for=RETRY_FOR
    )
    assert await worker.run_once() == 1
    assert await world.job_states("show_delivery") == [
        ("show_delivery", "failed", "slack:message_not_found")
    ]


async def test_work_of_a_webhook_waits_for_earlier_webhooks_still_being_read(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    # Found by the fault run with two workers: one worker read a customer's third message
    # and posted it while the other was still reading her first two.
    notice = PostOperatorNotice(channel="C1", notice=OperatorNotice(kind=AccountEventKind.OTHER))
    async with uow_factory() as uow:
        first = await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
        second = await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
        await uow.inbox.done_many([second], now=T0)
        await uow.jobs.enqueue(notice, now=T0, arrival=second * ARRIVALS_PER_WEBHOOK)
        await uow.commit()

    async def claim() -> int:
        async with uow_factory() as uow:
            claimed = await uow.jobs.claim(
                now=T0, limits={Lane.SLACK: 5}, lease=timedelta(seconds=15)
            )
            await uow.commit()
        return len(claimed)

    assert await claim() == 0  # the first webhook may hold an earlier message
    async with uow_factory() as uow:
        await uow.inbox.done_many([first], now=T0)
        await uow.commit()
    assert await claim() == 1


async def test_a_claim_for_both_lanes_is_one_statement_once_the_pauses_are_known(
    world: World,
) -> None:
    """The claim runs between every message and its post: one statement takes the due jobs
    of every lane with free slots, and the lane pauses, read once, are not read again on
    every pass."""
    worker = _worker_with_slots(world, 4)
    assert await worker.step() is False  # nothing due yet; the pauses are read now
    await world.webhook(payloads.messages(payloads.text("wamid.c", "hi", at=T0)))
    await world.workers.inbox.run_once()
    statements: list[str] = []

    def count(_: object, __: object, statement: str, *rest: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(world.uow.engine.sync_engine, "before_cursor_execute", count)
    try:
        world.chat.hold = asyncio.Event()
        await worker.step()
    finally:
        event.remove(world.uow.engine.sync_engine, "before_cursor_execute", count)
    started = worker.running
    world.chat.hold.set()
    await worker.wind_down()
    assert started == 1  # the post (the parent's window line waits behind it)
    assert statements == ["UPDATE"]
    await world.drain()
