"""Where the bridge stands, for ``/wa status``: numbers, queues, failures, windows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.domain import REFUSED_WINDOW_CLOSED
from bridge.ports import (
    BusinessNumber,
    Clock,
    FailureCount,
    JobCounts,
    LanePause,
    UnitOfWorkFactory,
)

__all__ = ["StatusReport", "StatusReports"]

#: "Closing soon" in the report.
CLOSING_WITHIN = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    now: datetime
    #: (phone number id, phone number, channel); the configured number first.
    numbers: tuple[tuple[str, str | None, str], ...]
    inbox_pending: int
    jobs: JobCounts
    failures: tuple[FailureCount, ...]
    #: Jobs waiting for a retry after failing, by type and last reason.
    retrying: tuple[FailureCount, ...]
    paused: tuple[LanePause, ...]
    last_webhook_at: datetime | None
    open_windows: int
    closing_soon: int
    refused_today: int


class StatusReports:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        phone_number_id: str,
        channel: str,
        numbers: Callable[[], Awaitable[Sequence[BusinessNumber]]] | None = None,
    ) -> None:
        """``numbers`` lists the numbers served (the default first); without it, every number
        a conversation was ever stored for."""
        self._uow = uow
        self._clock = clock
        self._phone_number_id = phone_number_id
        self._channel = channel
        self._numbers = numbers

    async def report(self) -> StatusReport:
        now = self._clock.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        async with self._uow() as uow:
            stored = await uow.conversations.business_numbers()
            inbox = await uow.inbox.depth()
            jobs = await uow.jobs.counts(now=now)
            failures = [*(await uow.jobs.failure_counts()), *(await uow.inbox.failure_counts())]
            retrying = await uow.jobs.retrying_counts()
            paused = await uow.pauses.active()
            last = await uow.inbox.last_received_at()
            open_windows, closing = await uow.conversations.window_counts(
                now=now, within=CLOSING_WITHIN
            )
            refused = await uow.messages.count_refused_since(midnight, reason=REFUSED_WINDOW_CLOSED)
        numbers: list[tuple[str, str | None, str]] = [
            (pnid, display, channel) for pnid, display, channel in stored
        ]
        if self._numbers is not None:  # the numbers served, as shown on their conversations
            shown = {pnid: display for pnid, display, _ in stored}
            numbers = [
                (
                    n.phone_number_id,
                    n.display_phone_number or shown.get(n.phone_number_id),
                    n.slack_channel,
                )
                for n in await self._numbers()
            ]
        if all(pnid != self._phone_number_id for pnid, _, _ in numbers):
            numbers.insert(0, (self._phone_number_id, None, self._channel))
        return StatusReport(
            now=now,
            numbers=tuple(numbers),
            inbox_pending=inbox,
            jobs=jobs,
            failures=tuple(failures),
            retrying=tuple(retrying),
            paused=tuple(paused),
            last_webhook_at=last,
            open_windows=open_windows,
            closing_soon=closing,
            refused_today=refused,
        )
