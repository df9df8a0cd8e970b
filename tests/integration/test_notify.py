"""PostgreSQL: a worker process hears at once that another process stored work, rather than
at its next poll; a transaction rolled back tells nobody."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bridge.jobs import ShowWindow
from bridge.ports import QueuedJob
from storage import notify
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.dbutil import USE_POSTGRES
from tests.fakes import T0
from tests.integration.world import World

postgres_only = pytest.mark.skipif(not USE_POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")

WAIT = 10.0


class _Heard:
    def __init__(self) -> None:
        self.inbox = asyncio.Event()
        self.jobs = asyncio.Event()
        #: When the jobs each notification told of fall due, in seconds.
        self.jobs_due: list[float] = []

    def clear(self) -> None:
        self.inbox.clear()
        self.jobs.clear()
        self.jobs_due.clear()

    def heard_inbox(self, due_in: float) -> None:
        self.inbox.set()

    def heard_jobs(self, due_in: float) -> None:
        self.jobs_due.append(due_in)
        self.jobs.set()


@pytest.fixture
async def heard(uow_factory: SqlUnitOfWorkFactory) -> AsyncIterator[_Heard]:
    """A listener on the test database, as a worker process runs one, already listening."""
    heard = _Heard()
    url = uow_factory.engine.url.render_as_string(hide_password=False)
    task = asyncio.create_task(
        notify.listen(url, {notify.INBOX: heard.heard_inbox, notify.JOBS: heard.heard_jobs})
    )
    # On connecting it wakes each loop once (for what came while nobody listened).
    await asyncio.wait_for(asyncio.gather(heard.inbox.wait(), heard.jobs.wait()), WAIT)
    heard.clear()
    try:
        yield heard
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _conversation(world: World) -> int:
    """A conversation for jobs to be about."""
    async with world.uow() as uow:
        conversation = await uow.conversations.get_or_create(
            phone_number_id="1000000001",
            display_phone_number="15550001111",
            contact_id="4915112345678",
            contact_name=None,
            slack_channel="C1",
            now=T0,
        )
        await uow.commit()
    return conversation.id


@postgres_only
async def test_a_webhook_stored_elsewhere_wakes_the_inbox_loop(
    uow_factory: SqlUnitOfWorkFactory, heard: _Heard
) -> None:
    async with uow_factory() as uow:
        await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
        await uow.commit()
    await asyncio.wait_for(heard.inbox.wait(), WAIT)
    assert not heard.jobs.is_set()


@postgres_only
async def test_a_job_queued_elsewhere_wakes_the_job_loop_and_a_rollback_tells_nobody(
    world: World, heard: _Heard
) -> None:
    conversation_id = await _conversation(world)
    heard.clear()
    async with world.uow() as uow:  # rolled back: never queued, never heard of
        await uow.jobs.enqueue(ShowWindow(conversation_id=conversation_id), now=T0)
    async with world.uow() as uow:
        await uow.inbox.store(b"{}", received_at=T0, dead_reason=None)
        await uow.commit()
    # Notifications arrive in commit order: once the later one is heard, the earlier
    # (had there been one) would have been.
    await asyncio.wait_for(heard.inbox.wait(), WAIT)
    assert not heard.jobs.is_set()
    async with world.uow() as uow:
        await uow.jobs.enqueue(ShowWindow(conversation_id=conversation_id), now=T0)
        await uow.commit()
    await asyncio.wait_for(heard.jobs.wait(), WAIT)


@postgres_only
async def test_a_job_held_a_moment_tells_the_other_processes_when_it_falls_due(
    world: World, heard: _Heard
) -> None:
    """An agent's reply held 250 ms (``REPLY_SETTLE``), stored by a web process: the worker
    process is told when it falls due, not only that it was stored. Told "now", it would
    find nothing due and wait its whole poll (half a second) before sending the reply."""
    conversation_id = await _conversation(world)
    heard.clear()
    held = ShowWindow(conversation_id=conversation_id)
    async with world.uow() as uow:
        await uow.jobs.enqueue(held, now=T0, not_before=T0 + timedelta(milliseconds=250))
        await uow.commit()
    await asyncio.wait_for(heard.jobs.wait(), WAIT)
    assert heard.jobs_due == [0.25]  # woken when it is due, and not before for nothing

    heard.clear()
    async with world.uow() as uow:  # one due now and one held: woken for each
        await uow.jobs.enqueue_many(
            [
                QueuedJob(job=held, seq=T0, not_before=T0 + timedelta(seconds=2)),
                QueuedJob(job=held, seq=T0),
            ],
            now=T0,
        )
        await uow.commit()
    await asyncio.wait_for(heard.jobs.wait(), WAIT)
    assert heard.jobs_due == [0.0, 2.0]


@postgres_only
async def test_a_worker_that_would_poll_once_an_hour_takes_a_webhook_at_once(
    world: World, uow_factory: SqlUnitOfWorkFactory
) -> None:
    workers = world.workers
    assert workers.listen is not None  # what build_workers gives a worker on PostgreSQL
    # The same listener, telling the test once it listens.
    listening = asyncio.Event()
    # Passes of the inbox loop, to know when it has gone idle.
    passes = {"started": 0, "ended": 0, "when_listening": 0}

    def inbox_wake() -> None:
        if not listening.is_set():
            # Counted here: woken, the loop may begin its pass before the test hears of it.
            passes["when_listening"] = passes["started"]
            listening.set()
        workers.inbox_wake.wake()

    url = uow_factory.engine.url.render_as_string(hide_password=False)
    workers.listen = lambda: notify.listen(
        url, {notify.INBOX: lambda _: inbox_wake(), notify.JOBS: workers.jobs_wake.wake_in}
    )
    ended = asyncio.Condition()
    step = workers.inbox.step

    async def counted_step() -> bool:
        passes["started"] += 1
        try:
            return await step()
        finally:
            async with ended:
                passes["ended"] += 1
                ended.notify_all()

    workers.inbox.step = counted_step  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(workers.run(stop, idle=3600))
    try:
        await asyncio.wait_for(listening.wait(), WAIT)
        # The listener woke the loop on connecting: once a pass begun since has ended, the
        # loop waits for its hour-long poll, and nothing in this process will wake it.
        after = passes["when_listening"] + 1
        async with ended:
            await asyncio.wait_for(ended.wait_for(lambda: passes["ended"] >= after), WAIT)
        await world.webhook(payloads.messages(payloads.text("wamid.1", "Hi", at=T0)))

        deadline = asyncio.get_running_loop().time() + WAIT
        while not world.chat.posts:  # its poll is an hour away: only the notification wakes it
            assert asyncio.get_running_loop().time() < deadline, "the worker never woke"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        workers.wake()
        await asyncio.wait_for(running, WAIT)
    assert [p.text for p in world.chat.posts][-1] == "Hi"


async def test_a_listener_that_cannot_connect_says_so_without_the_url_and_does_not_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens on port 1: the listener logs a warning and goes on trying (the
    workers' poll finds the work meanwhile); it never ends by itself."""
    woken: list[str] = []
    task = asyncio.create_task(
        notify.listen(
            "postgresql+psycopg://nobody@127.0.0.1:1/nothing",
            {notify.INBOX: lambda _: woken.append("inbox")},
        )
    )
    try:
        deadline = asyncio.get_running_loop().time() + WAIT
        while "polling meanwhile" not in caplog.text:
            assert asyncio.get_running_loop().time() < deadline, "no warning logged"
            await asyncio.sleep(0.01)
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "nobody@" not in caplog.text  # the URL (it may hold a password) is never logged
    assert woken == []
