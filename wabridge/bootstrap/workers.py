"""The workers (inbox and job loops) and the scheduler's periodic tasks."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bridge.ports import (
    ChatSurface,
    Clock,
    RelayObserver,
    WhatsApp,
)
from bridge.usecases import job_handlers
from bridge.usecases.numbers import NumberBook
from bridge.usecases.retention import Retention
from bridge.usecases.schedule import Slots
from bridge.usecases.templates import Templates
from bridge.usecases.warnings import WindowWatch
from bridge.workers import DEFAULT_LEASE, InboxWorker, JobWorker, Rush, Wakeable, run_loop
from scheduler.jobs.retention import retention_purge
from scheduler.jobs.templates import template_sync
from scheduler.jobs.windows import window_scan
from scheduler.runner import Scheduler
from storage import notify
from wabridge.base import Storage
from wabridge.settings import Settings
from whatsapp.webhooks import WebhookParser


@dataclass(kw_only=True)
class Workers:
    inbox: InboxWorker
    jobs: JobWorker
    inbox_wake: Wakeable
    jobs_wake: Wakeable
    #: Webhooks pouring into this process, to which the loops give way (``Rush``).
    rush: Rush = field(default_factory=Rush)
    #: PostgreSQL: hears other processes store work, and wakes the loops (``storage.notify``).
    listen: Callable[[], Coroutine[Any, Any, None]] | None = None

    async def run(self, stop: asyncio.Event, *, idle: float = 0.5) -> None:
        """The inbox and job loops, until ``stop`` is set; then the running jobs end."""
        listener = asyncio.create_task(self.listen()) if self.listen is not None else None
        # With the loop running here, the jobs a transaction of this process queues are
        # claimed for it as that transaction commits (``Handoff``).
        self.jobs.serving = True
        try:
            await asyncio.gather(
                run_loop(
                    "inbox", self.inbox.step, self.inbox_wake, idle=idle, stop=stop, rush=self.rush
                ),
                run_loop(
                    "jobs", self.jobs.step, self.jobs_wake, idle=idle, stop=stop, rush=self.rush
                ),
            )
        finally:
            self.jobs.serving = False
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
        await self.jobs.wind_down()

    def wake(self) -> None:
        self.inbox_wake.wake()
        self.jobs_wake.wake()

    # What this process's webhook route tells (``WebhookTraffic``).
    def arrived(self) -> None:
        self.rush.arrived()

    def stored(self) -> None:
        """A webhook was stored by this process: the inbox loop looks at once."""
        self.rush.stored()
        self.inbox_wake.wake()

    def answered(self) -> None:
        self.rush.answered()


def build_workers(
    *,
    storage: Storage,
    chat: ChatSurface,
    whatsapp: WhatsApp,
    clock: Clock,
    numbers: NumberBook,
    retry_for: timedelta,
    lease: timedelta = DEFAULT_LEASE,
    inbox_wake: Wakeable | None = None,
    jobs_wake: Wakeable | None = None,
    relays: RelayObserver | None = None,
    templates: Templates | None = None,
) -> Workers:
    inbox_wake = inbox_wake or Wakeable()
    jobs_wake = jobs_wake or Wakeable()
    rush = Rush()
    inbox = InboxWorker(
        uow=storage.uow,
        parser=WebhookParser(),
        clock=clock,
        numbers=numbers,
        on_jobs_queued=jobs_wake.queued,
        observer=relays,
        # A batch's customer messages are stored together in a few statements. SQLite has
        # one writer, and a longer transaction holds up incoming webhooks: smaller batches.
        batch=20 if storage.sqlite else 50,
        rush=rush,
    )
    jobs = JobWorker(
        uow=storage.uow,
        handlers=job_handlers(
            uow=storage.uow,
            chat=chat,
            whatsapp=whatsapp,
            clock=clock,
            relays=relays,
            suggest=templates,
        ),
        clock=clock,
        retry_for=retry_for,
        lease=lease,
        on_slot_free=jobs_wake.wake,
        on_handed=lambda covered: jobs_wake.handed(covered=covered),
    )
    listen = (
        None
        if storage.sqlite
        else functools.partial(
            notify.listen,
            storage.engine.url.render_as_string(hide_password=False),
            {notify.INBOX: inbox_wake.wake_in, notify.JOBS: jobs_wake.wake_in},
        )
    )
    return Workers(
        inbox=inbox,
        jobs=jobs,
        inbox_wake=inbox_wake,
        jobs_wake=jobs_wake,
        rush=rush,
        listen=listen,
    )


def build_scheduler(
    settings: Settings,
    *,
    storage: Storage,
    clock: Clock,
    templates: Templates | None,
    on_queued: Callable[[float], None],
) -> Scheduler:
    """The periodic tasks: window warnings, the hourly template sync and retention purge."""
    watch = WindowWatch(
        uow=storage.uow,
        clock=clock,
        marks=settings.warn_before,
        templates=templates,
        on_queued=on_queued,
    )
    slots = Slots(uow=storage.uow, clock=clock)
    retention = Retention(uow=storage.uow, clock=clock, keep=settings.retention)
    tasks = [window_scan(watch, every=settings.scan_interval), retention_purge(retention, slots)]
    if templates is not None:
        tasks.append(template_sync(templates, slots))
    return Scheduler(tasks)
