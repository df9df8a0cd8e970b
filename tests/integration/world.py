"""The bridge's core over a real database, with fake WhatsApp and Slack: built through the same
builders as ``wabridge serve`` (``wabridge.bootstrap``), driven by hand, on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bridge.jobs import Lane
from bridge.ports import BusinessNumber, MessageRecord, RelayObserver
from bridge.usecases.numbers import NumberBook
from bridge.usecases.replies import Replies, ReplyOutcome, ReplyResult
from bridge.workers import JobWorker
from storage.uow import SqlUnitOfWorkFactory
from tests.dbutil import USE_POSTGRES
from tests.fakes import FakeChat, FakeClock, FakeWhatsApp
from tests.payloads import PHONE_NUMBER_ID
from wabridge.bootstrap import Storage, Workers, build_workers

CHANNEL = "C0SUPPORT"
RETRY_FOR = timedelta(hours=1)


def number_book(uow: SqlUnitOfWorkFactory) -> NumberBook:
    """The numbers, as the payloads' default number and ``CHANNEL``."""
    default = BusinessNumber(
        phone_number_id=PHONE_NUMBER_ID,
        display_phone_number=None,
        waba_id=None,
        slack_channel=CHANNEL,
    )
    return NumberBook(uow=uow, default=default)


def storage_of(uow: SqlUnitOfWorkFactory) -> Storage:
    return Storage(engine=uow.engine, uow=uow, sqlite=not USE_POSTGRES)


@dataclass
class World:
    uow: SqlUnitOfWorkFactory
    clock: FakeClock
    whatsapp: FakeWhatsApp
    chat: FakeChat
    replies: Replies
    workers: Workers
    numbers: NumberBook
    _slack_ts: int = 0

    @classmethod
    def build(
        cls,
        uow: SqlUnitOfWorkFactory,
        *,
        settle: timedelta = timedelta(0),
        relays: RelayObserver | None = None,
    ) -> World:
        clock, whatsapp, chat = FakeClock(), FakeWhatsApp(), FakeChat()
        numbers = number_book(uow)
        workers = build_workers(
            storage=storage_of(uow),
            chat=chat,
            whatsapp=whatsapp,
            clock=clock,
            numbers=numbers,
            retry_for=RETRY_FOR,
            relays=relays,
        )
        replies = Replies(uow=uow, clock=clock, settle=settle)
        return cls(uow, clock, whatsapp, chat, replies, workers, numbers)

    def other_worker(self, *, lease: timedelta = timedelta(seconds=15)) -> JobWorker:
        """A second job worker on the same database, as another process would run."""
        return self.other_workers(lease=lease).jobs

    def other_workers(self, **built: Any) -> Workers:
        """Workers of another process on the same database, built with ``built`` too."""
        return build_workers(
            storage=storage_of(self.uow),
            chat=self.chat,
            whatsapp=self.whatsapp,
            clock=self.clock,
            numbers=self.numbers,
            retry_for=RETRY_FOR,
            **built,
        )

    async def webhook(self, body: bytes) -> None:
        async with self.uow() as uow:
            await uow.inbox.store(body, received_at=self.clock.now(), dead_reason=None)
            await uow.commit()

    def next_slack_ts(self) -> str:
        """A Slack timestamp at the fake clock's time, unique and increasing."""
        self._slack_ts += 1
        return f"{int(self.clock.now().timestamp())}.{self._slack_ts:06d}"

    async def queue_reply(
        self,
        thread: str,
        text: str = "Hi",
        *,
        slack_ts: str | None = None,
        event_id: str | None = None,
        channel: str = CHANNEL,
        others_arriving: bool = True,
    ) -> ReplyResult:
        from slack_app.listeners.messages import posted_at

        ts = slack_ts or self.next_slack_ts()
        return await self.replies.queue(
            channel=channel,
            thread_ts=thread,
            slack_ts=ts,
            posted_at=posted_at(ts),
            user="U1",
            text=text,
            event_id=event_id,
            others_arriving=lambda: others_arriving,
        )

    async def reply(self, thread: str, text: str = "Hi") -> MessageRecord:
        """An agent's thread reply, taken all the way through the jobs."""
        result = await self.queue_reply(thread, text)
        assert result.outcome == ReplyOutcome.QUEUED and result.message_ids
        await self.drain()
        return await self.message(result.message_ids[0])

    async def message(self, message_id: int) -> MessageRecord:
        async with self.uow() as uow:
            message = await uow.messages.get(message_id)
        assert message is not None
        return message

    async def drain(self) -> None:
        """Run both workers until neither finds due work."""
        for _ in range(100):
            if not (await self.workers.inbox.run_once()) + (await self.workers.jobs.run_once()):
                return
        raise AssertionError("workers never went idle")

    async def job_states(self, job_type: str | None = None) -> list[tuple[str, str, str | None]]:
        """(job type, state, failure reason) of every job, in the order they were queued."""
        async with self.uow.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT job_type, state, failure_reason FROM jobs ORDER BY id")
            )
            return [(r[0], r[1], r[2]) for r in rows if job_type in (None, r[0])]

    async def inbox_states(self) -> list[tuple[str, str | None]]:
        """(state, failure reason) of every stored webhook, oldest first."""
        async with self.uow.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT state, failure_reason FROM webhook_inbox ORDER BY id")
            )
            return [(r[0], r[1]) for r in rows]

    async def paused(self) -> list[Lane]:
        async with self.uow() as uow:
            return [p.lane for p in await uow.pauses.active()]

    async def thread(self) -> str:
        parents = self.chat.parents()
        assert len(parents) == 1
        return parents[0].ts
