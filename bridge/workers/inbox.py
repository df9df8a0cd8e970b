"""The inbox loop: stored webhook bodies become domain changes and queued jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from bridge.domain import (
    AccountEvent,
    InboundMessage,
    StatusUpdate,
    TemplateUpdate,
    UnknownEvent,
    WebhookEvent,
)
from bridge.errors import WebhookParseError
from bridge.jobs import ARRIVALS_PER_WEBHOOK
from bridge.ports import (
    Clock,
    InboxRow,
    MessageRecord,
    RelayObserver,
    UnitOfWork,
    UnitOfWorkFactory,
    Unobserved,
    WebhookParser,
)
from bridge.usecases.account import receive_account_event
from bridge.usecases.inbound import Arrival, receive_inbound, receive_inbound_many
from bridge.usecases.numbers import UNKNOWN_NUMBER, NumberBook, report_unknown_number
from bridge.usecases.statuses import (
    UNKNOWN_STATUSES,
    StatusOutcome,
    apply_statuses,
    status_may_be_early,
)
from bridge.usecases.templates import apply_template_update
from bridge.workers.loop import Rush, backoff_delay

__all__ = ["InboxWorker"]

log = logging.getLogger(__name__)

#: A webhook whose processing keeps raising is kept as a failed dead letter after this many tries.
INBOX_MAX_ATTEMPTS: Final = 8
#: Unknown-wamid statuses are re-read this many times before they are let go.
UNKNOWN_STATUS_RETRIES: Final = 4


@dataclass(slots=True)
class _Routine:
    """What a webhook of customer messages and statuses only carries, split."""

    arrivals: list[Arrival] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


class InboxWorker:
    """Stored webhooks -> conversations, messages, statuses and queued jobs."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        parser: WebhookParser,
        clock: Clock,
        numbers: NumberBook,
        on_jobs_queued: Callable[[], None] = lambda: None,
        observer: RelayObserver | None = None,
        batch: int = 10,
        rush: Rush | None = None,
    ) -> None:
        self._uow = uow
        self._parser = parser
        self._clock = clock
        self._numbers = numbers
        self._on_jobs_queued = on_jobs_queued
        self._observer = observer or Unobserved()
        self._batch = batch
        #: While webhooks pour in, a step takes a smaller batch (``Rush.batch``).
        self._rush = rush

    async def step(self) -> bool:
        """One pass of the serving loop: whether more webhooks may be waiting (a full batch)."""
        batch = self._batch if self._rush is None else self._rush.batch(self._batch)
        return await self.run_once(batch) >= batch

    async def run_once(self, batch: int | None = None) -> int:
        """Process a batch of pending webhooks (``batch``, or the worker's own) in one
        transaction; returns how many were taken.

        If anything in the batch fails, the batch rolls back and its webhooks are taken one
        by one, so one bad webhook only delays the others and is retried or set aside alone.
        """
        async with self._uow() as uow:
            rows = await uow.inbox.claim(now=self._clock.now(), limit=batch or self._batch)
            if not rows:
                return 0
            try:
                dead, deferred = await self._take(uow, rows, defer_unknown=True)
                await uow.commit()
                batch_failed = False
            except Exception as error:
                # Each webhook is taken again alone; one that fails alone says why in full.
                log.warning(
                    "inbox batch failed; taking its webhooks one by one",
                    extra={"error": repr(error)[:300], "inbox_ids": [row.id for row in rows]},
                )
                batch_failed = True
        if batch_failed:
            for row in rows:
                await self._run_single(row)
        else:
            self._dead_lettered(dead)
            for row in deferred:
                await self._run_single(row)
        self._on_jobs_queued()
        return len(rows)

    async def _run_single(self, row: InboxRow) -> None:
        failed: Exception | None = None
        async with self._uow() as uow:
            # The batch (failed, or committed without this one) let go of its rows: another
            # worker may have claimed this one since, or finished it. Two workers applying
            # one webhook at once deadlock.
            mine = await uow.inbox.reclaim(row.id)
            if mine is None:
                return
            try:
                dead, _ = await self._take(uow, [mine], defer_unknown=False)
                await uow.commit()
            except Exception as error:
                log.exception("inbox row failed", extra={"inbox_id": row.id})
                failed = error
        if failed is not None:
            await self._retry_or_fail(mine, failed)
        else:
            self._dead_lettered(dead)

    def _dead_lettered(self, count: int) -> None:
        # Counted once committed: a batch rolled back is taken again, one by one.
        for _ in range(count):
            self._observer.webhook_dead_lettered()

    async def _take(
        self, unit: UnitOfWork, rows: list[InboxRow], *, defer_unknown: bool
    ) -> tuple[int, list[InboxRow]]:
        """Apply ``rows`` in the caller's transaction. Webhooks that carry only customer
        messages and statuses of messages the bridge sent, for known numbers (nearly all of
        them), are applied together, in a few statements for the whole batch; any other
        webhook is applied on its own. Returns how many became dead letters (unparseable),
        and, with ``defer_unknown``, the webhooks left for a transaction of their own: those
        with a status of a message not stored yet (see below)."""
        now = self._clock.now()
        dead = 0
        parsed: list[tuple[InboxRow, Sequence[WebhookEvent]]] = []
        for row in rows:
            try:
                parsed.append((row, self._parser.parse(row.body)))
            except WebhookParseError as error:
                await unit.inbox.fail(row.id, reason="unparseable", error=str(error), now=now)
                dead += 1
                log.warning(
                    "webhook dead-lettered", extra={"inbox_id": row.id, "reason": str(error)}
                )
        # Every message the batch's statuses are about, read and locked at once, before any
        # other lock: locked in one order (by id) in one statement, two workers' batches
        # wait for each other instead of deadlocking. (Locked a few at a time, as each
        # webhook came, they deadlocked now and then.)
        known = await unit.messages.lock_many_by_wamid(
            {e.wamid for _, events in parsed for e in events if isinstance(e, StatusUpdate)}
        )
        deferred: list[InboxRow] = []
        unknown: list[tuple[InboxRow, list[StatusUpdate]]] = []
        routine: list[tuple[InboxRow, Sequence[WebhookEvent], _Routine]] = []
        alone = False
        for row, events in parsed:
            strangers = [e for e in events if isinstance(e, StatusUpdate) and e.wamid not in known]
            if strangers and len(strangers) == len(events) and await self._served(unit, strangers):
                # Nothing but statuses of messages not stored (a broadcast's statuses racing
                # its sends, or another app's on the same number): nothing to lock or apply,
                # so the webhook is settled with the batch.
                unknown.append((row, strangers))
                continue
            if defer_unknown and strangers:
                # A status before its send, perhaps, beside other news. Its message, stored
                # meanwhile, would be locked out of order here: the webhook is taken alone,
                # once this batch has committed.
                deferred.append(row)
                continue
            split = await self._routine(unit, row, events)
            if split is None:
                await self._process(unit, row, events, now=now)
                alone = True
            else:
                routine.append((row, events, split))
        if routine:
            await self._apply_routine(unit, routine, known, alone=alone, now=now)
        # Last: letting statuses go counts them, and the shared counter's row is locked after
        # every other (two batches taking them in other orders would deadlock).
        await self._settle_unknown(unit, unknown, now=now)
        return dead, deferred

    async def _apply_routine(
        self,
        unit: UnitOfWork,
        routine: list[tuple[InboxRow, Sequence[WebhookEvent], _Routine]],
        known: dict[str, MessageRecord],
        *,
        alone: bool,
        now: datetime,
    ) -> None:
        """The batch's routine webhooks, together (see ``_take``)."""
        if alone:
            # What a webhook taken alone changed, read again (the locks are held already).
            known = await unit.messages.lock_many_by_wamid(
                {s.wamid for _, _, split in routine for s in split.statuses}
            )
        arrivals: list[Arrival] = []
        statuses: list[StatusUpdate] = []
        done: list[int] = []
        late: list[tuple[InboxRow, Sequence[WebhookEvent]]] = []
        for row, carried, split in routine:
            if any(s.wamid not in known for s in split.statuses):
                late.append((row, carried))  # a status before its send, perhaps: waits alone
                continue
            arrivals.extend(split.arrivals)
            statuses.extend(split.statuses)
            done.append(row.id)
        await apply_statuses(unit, statuses, known, now=now)
        await receive_inbound_many(unit, arrivals, now=now)
        await unit.inbox.done_many(done, now=now)
        # After the batch's statuses, whose messages they may share (read again, then).
        for row, carried in late:
            await self._process(unit, row, carried, now=now)

    async def _served(self, unit: UnitOfWork, statuses: Sequence[StatusUpdate]) -> bool:
        """Whether every status is for a number the bridge serves (a webhook for another is
        kept whole among the dead letters, by ``_process``)."""
        for number_id in {status.phone_number_id for status in statuses}:
            if await self._numbers.lookup(number_id, uow=unit) is None:
                return False
        return True

    async def _settle_unknown(
        self,
        unit: UnitOfWork,
        rows: Sequence[tuple[InboxRow, list[StatusUpdate]]],
        *,
        now: datetime,
    ) -> None:
        """Each webhook is done with except for ``unknown``: its statuses of messages not stored.
        While one of them may be racing our own send (it is recent, and the webhook was read
        fewer than ``UNKNOWN_STATUS_RETRIES`` times), the whole webhook is read again later:
        everything else in it is idempotent. Otherwise the statuses are let go, each logged
        and counted once. A few statements for the lot, however many webhooks."""
        later: dict[int, list[int]] = {}  # by attempts so far, which set the backoff
        done: list[int] = []
        ignored = 0
        for row, unknown in rows:
            if not unknown:
                done.append(row.id)
            elif row.attempts < UNKNOWN_STATUS_RETRIES and any(
                status_may_be_early(s, now=now) for s in unknown
            ):
                later.setdefault(row.attempts, []).append(row.id)
            else:
                for event in unknown:
                    log.info(
                        "status for a message this bridge never sent; ignored",
                        extra={
                            "inbox_id": row.id,
                            "wamid": event.wamid,
                            "status": event.raw_status,
                        },
                    )
                ignored += len(unknown)
                done.append(row.id)
        for attempts, ids in later.items():
            not_before = now + timedelta(seconds=backoff_delay(attempts + 1, base=2.0))
            await unit.inbox.retry(ids, error="status before its send", not_before=not_before)
        if done:
            await unit.inbox.done_many(done, now=now)
        if ignored:
            await unit.counters.add(UNKNOWN_STATUSES, ignored)

    async def _routine(
        self, unit: UnitOfWork, row: InboxRow, events: Sequence[WebhookEvent]
    ) -> _Routine | None:
        """The customer messages and statuses of a webhook that carries nothing else, each
        for a number the bridge serves; None for any other webhook."""
        split = _Routine()
        for index, event in enumerate(events):
            if not isinstance(event, InboundMessage | StatusUpdate):
                return None
            number = await self._numbers.lookup(event.phone_number_id, uow=unit)
            if number is None:
                return None
            if isinstance(event, StatusUpdate):
                split.statuses.append(event)
                continue
            arrival = row.id * ARRIVALS_PER_WEBHOOK + min(index, ARRIVALS_PER_WEBHOOK - 1)
            split.arrivals.append(Arrival(event, number.slack_channel, arrival, row.received_at))
        return split

    async def _process(
        self, unit: UnitOfWork, row: InboxRow, events: Sequence[WebhookEvent], *, now: datetime
    ) -> None:
        statuses: list[StatusUpdate] = []
        #: Numbers nobody added, with the phone number Meta showed for each.
        unrouted: dict[str, str | None] = {}
        default_channel = self._numbers.default.slack_channel
        for index, event in enumerate(events):
            if isinstance(event, InboundMessage | StatusUpdate):
                number = await self._numbers.lookup(event.phone_number_id, uow=unit)
                if number is None:
                    display = getattr(event, "display_phone_number", None)
                    unrouted.setdefault(event.phone_number_id, display)
                    continue
                if isinstance(event, InboundMessage):
                    arrival = row.id * ARRIVALS_PER_WEBHOOK + min(index, ARRIVALS_PER_WEBHOOK - 1)
                    await receive_inbound(
                        unit,
                        event,
                        now=now,
                        channel=number.slack_channel,
                        arrival=arrival,
                        received_at=row.received_at,
                    )
                    continue
                statuses.append(event)
            elif isinstance(event, TemplateUpdate):
                await apply_template_update(unit, event, now=now)
            elif isinstance(event, AccountEvent):
                await receive_account_event(unit, event, now=now, default_channel=default_channel)
            elif isinstance(event, UnknownEvent):
                log.info("webhook event not handled", extra={"kind": event.kind})
        known = await unit.messages.lock_many_by_wamid({s.wamid for s in statuses})
        outcomes = await apply_statuses(unit, statuses, known, now=now)
        unknown = [
            s for s, o in zip(statuses, outcomes, strict=True) if o == StatusOutcome.UNKNOWN_MESSAGE
        ]
        if unrouted:
            # Kept whole among the dead letters, never bridged as the default number's: adding
            # the number queues it again, and what was applied already is not applied twice.
            ids = ", ".join(unrouted)
            await unit.inbox.fail(
                row.id,
                reason=UNKNOWN_NUMBER,
                error=f"no business number has the phone number id {ids}; "
                "add it with wabridge numbers add",
                now=now,
            )
            for pnid, display in unrouted.items():
                await report_unknown_number(
                    unit,
                    phone_number_id=pnid,
                    display_phone_number=display,
                    channel=default_channel,
                    now=now,
                )
            log.warning(
                "webhook for a number nobody added; kept",
                extra={"inbox_id": row.id, "phone_number_ids": ids},
            )
            return
        await self._settle_unknown(unit, [(row, unknown)], now=now)

    async def _retry_or_fail(self, row: InboxRow, error: Exception) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            if row.attempts + 1 >= INBOX_MAX_ATTEMPTS:
                await uow.inbox.fail(
                    row.id, reason=f"unexpected:{type(error).__name__}", error=repr(error), now=now
                )
                log.error(
                    "webhook failed for good; replay it with wabridge deadletters",
                    extra={"inbox_id": row.id, "error": repr(error)},
                )
            else:
                delay = backoff_delay(row.attempts + 1)
                await uow.inbox.retry(
                    [row.id], error=repr(error), not_before=now + timedelta(seconds=delay)
                )
            await uow.commit()
