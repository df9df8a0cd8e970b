"""The jobs a transaction queues are claimed in it for this process's own worker, and start
as it commits: no wake, claim or read of their own between a customer's message (or an
agent's reply) being stored and its call to Slack (or Meta)."""

from __future__ import annotations

import logging

import pytest

import storage.uow
from bridge.domain import MessageStatus
from bridge.jobs import Lane
from bridge.usecases.inbound import PostCustomerMessageHandler
from bridge.usecases.replies import ReplyOutcome
from tests import payloads
from tests.integration.world import World


def serving(world: World) -> World:
    """``world`` as ``wabridge serve`` runs it: its job loop serving in this process."""
    world.uow.handoff = world.workers.jobs
    world.workers.jobs.serving = True
    return world


async def handed_jobs_end(world: World) -> None:
    """Wait for the jobs the worker started (those that end may start more)."""
    while world.workers.jobs.running:
        await world.workers.jobs.wind_down()


async def customer_writes(world: World, wamid: str, text: str) -> None:
    await world.webhook(payloads.messages(payloads.text(wamid, text, at=world.clock.now())))


async def test_a_customer_message_is_posted_without_a_pass_of_the_job_loop(world: World) -> None:
    serving(world)
    await customer_writes(world, "wamid.1", "Hi")
    assert await world.workers.inbox.run_once() == 1
    await handed_jobs_end(world)
    # No step of the job loop ran: the inbox's own transaction claimed the post.
    assert world.chat.thread(await world.thread()) == ["Hi"]


async def test_handed_jobs_keep_their_conversations_order(world: World) -> None:
    serving(world)
    await customer_writes(world, "wamid.1", "Hi")
    await customer_writes(world, "wamid.2", "Are you there?")
    await customer_writes(world, "wamid.3", "Hello??")
    await world.workers.inbox.run_once()
    await handed_jobs_end(world)
    thread = await world.thread()
    # The later posts waited behind the first (blocked in the claim): the loop takes them.
    assert world.chat.thread(thread) == ["Hi"]
    await world.drain()
    assert world.chat.thread(thread) == ["Hi", "Are you there?", "Hello??"]


async def test_a_reply_is_sent_without_a_pass_of_the_job_loop(world: World) -> None:
    await customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    serving(world)
    result = await world.queue_reply(thread, "Hello!", others_arriving=False)
    assert result.outcome == ReplyOutcome.QUEUED
    await handed_jobs_end(world)
    assert [m.get("text") for m in world.whatsapp.sent] == ["Hello!"]
    sent = await world.message(result.message_ids[0])
    assert sent.status == MessageStatus.SENT and sent.wamid == "wamid.OUT1"


async def test_a_process_whose_job_loop_does_not_run_here_leaves_its_jobs_to_the_workers(
    world: World,
) -> None:
    """``--role web``: the reply is stored and waits for a worker process."""
    await customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    world.uow.handoff = world.workers.jobs  # built, but its loop is not serving here
    await world.queue_reply(thread, "Hello!", others_arriving=False)
    assert world.workers.jobs.running == 0 and world.whatsapp.sent == []
    await world.drain()
    assert [m.get("text") for m in world.whatsapp.sent] == ["Hello!"]


async def test_a_commit_that_fails_starts_nothing_and_frees_its_slots(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await customer_writes(world, "wamid.1", "Hi")
    await world.drain()
    thread = await world.thread()
    serving(world)
    send_marked = storage.uow.send_marked

    async def fails_once(session: object) -> None:
        monkeypatch.setattr(storage.uow, "send_marked", send_marked)
        raise ConnectionError("the database went away")

    monkeypatch.setattr(storage.uow, "send_marked", fails_once)
    with pytest.raises(ConnectionError):
        await world.queue_reply(thread, "Hello!", event_id="Ev1", others_arriving=False)
    assert world.workers.jobs.running == 0 and world.whatsapp.sent == []
    # Slack delivers the event again: the reply goes out once, handed over as usual (the
    # first try's promised slots were given back, or there would be none left).
    for _ in range(10):
        await world.queue_reply(thread, "Hello!", event_id="Ev1", others_arriving=False)
    await handed_jobs_end(world)
    assert [m.get("text") for m in world.whatsapp.sent] == ["Hello!"]


async def test_a_handler_that_cannot_prepare_still_runs_its_job(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    serving(world)

    async def broken(*_: object) -> None:
        raise RuntimeError("a bug in prepare")

    monkeypatch.setattr(PostCustomerMessageHandler, "prepare", broken)
    await customer_writes(world, "wamid.1", "Hi")
    with caplog.at_level(logging.WARNING):
        await world.workers.inbox.run_once()
        await handed_jobs_end(world)
    assert world.chat.thread(await world.thread()) == ["Hi"]
    assert "job not prepared; it reads for itself" in caplog.text


async def test_a_paused_lane_takes_no_handed_jobs(world: World) -> None:
    """Its credentials were refused: the loop's probes alone find out when they work again."""
    serving(world)
    async with world.uow() as uow:
        await uow.pauses.pause(
            Lane.SLACK, reason="invalid_auth", now=world.clock.now(), probe_after=world.clock.now()
        )
        await uow.commit()
    await customer_writes(world, "wamid.1", "Hi")
    await world.workers.inbox.run_once()
    await handed_jobs_end(world)
    assert world.chat.posts == []


async def test_jobs_the_worker_took_as_they_committed_wake_no_pass_of_its_loop(
    world: World,
) -> None:
    """A pass for nothing would run beside the post's call to Slack (on SQLite, its claim
    holds the event loop's thread)."""
    serving(world)
    await customer_writes(world, "wamid.1", "Hi")
    await world.workers.inbox.run_once()
    assert not world.workers.jobs_wake.woken
    await handed_jobs_end(world)
    assert world.chat.thread(await world.thread()) == ["Hi"]


async def test_jobs_left_for_the_loop_wake_it(world: World) -> None:
    world.uow.handoff = world.workers.jobs  # built, but its loop is not serving here
    await customer_writes(world, "wamid.1", "Hi")
    await world.workers.inbox.run_once()
    assert world.workers.jobs_wake.woken
