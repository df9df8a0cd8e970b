"""Everything ``wabridge serve`` runs, built from the settings and wired (``build``), and how it
runs: HTTP, the workers, the scheduler and Socket Mode, for the process's role.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import httpx
import uvicorn
from fastapi import FastAPI

from bridge.domain import FailureKind
from bridge.errors import ChatError
from bridge.ports import (
    Clock,
)
from bridge.usecases.holds import StoredHolds
from bridge.usecases.reactions import AgentReactions
from bridge.usecases.replies import REPLY_SETTLE, Replies, ReplyChanges
from bridge.usecases.resends import Resends
from bridge.usecases.status import StatusReports
from bridge.usecases.templates import TemplateMessages, TemplatePicker
from bridge.workers import Wakeable
from scheduler.runner import Scheduler
from wabridge.base import Storage, SystemClock, build_storage
from wabridge.bootstrap.meta import (
    build_numbers,
    build_templates,
    build_whatsapp,
)
from wabridge.bootstrap.slack import Slack, build_slack
from wabridge.bootstrap.web import build_web
from wabridge.bootstrap.workers import Workers, build_scheduler, build_workers
from wabridge.settings import ConfigError, Settings, unused_settings
from webhook_server.metrics import Metrics
from whatsapp.client import WhatsAppClient

log = logging.getLogger(__name__)

#: How long shutdown waits for running jobs before cancelling them (their leases run out
#: and another worker takes them over).
SHUTDOWN_GRACE: Final = 10.0


class Role(enum.StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"


@dataclass(kw_only=True)
class Bridge:
    """Everything ``wabridge serve`` runs, built and wired."""

    settings: Settings
    storage: Storage
    whatsapp: WhatsAppClient
    replies: Replies
    slack: Slack
    workers: Workers
    scheduler: Scheduler
    app: FastAPI
    #: What a ``worker`` or ``scheduler`` process serves when given a port: its own metrics.
    health_app: FastAPI
    shutdown_grace: float = SHUTDOWN_GRACE
    closed: bool = field(default=False)
    socket_open: bool = field(default=False)
    _socket_retry: asyncio.Task[None] | None = field(default=None)

    async def serve(
        self,
        *,
        host: str,
        port: int,
        role: Role,
        stop: asyncio.Event | None = None,
        http: bool | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        """Run the roles asked for until a signal (or ``stop``) ends the process.

        ``all`` and ``web`` serve every endpoint on ``host:port``; ``worker`` and ``scheduler``
        serve nothing, or with ``http`` only ``/healthz``, ``/readyz`` and ``/metrics`` (the
        calls and latencies of that process, which no other process can report).
        ``listener``: a socket already bound to ``host:port`` (``wabridge serve`` binds it
        before anything else runs, so that a port in use is one line and exit 2).

        Whatever happens, the clients and the database engine are closed on the way out;
        workers that overrun the shutdown grace are cancelled, not waited for.
        """
        for warning in unused_settings(self.settings):
            log.warning(warning)
        by_signal = stop is None
        stop = stop or asyncio.Event()
        workers: asyncio.Task[None] | None = None
        try:
            if role in (Role.ALL, Role.WEB):
                await self._connect_socket()  # first: a refused token stops everything
            if role in (Role.ALL, Role.SCHEDULER):
                self.scheduler.start()
            if role in (Role.ALL, Role.WORKER):
                workers = asyncio.create_task(self.workers.run(stop))
            web = role in (Role.ALL, Role.WEB)
            if web or http:
                app = self.app if web else self.health_app
                config = uvicorn.Config(
                    app, host=host, port=port, log_config=None, access_log=False
                )
                server = _Server(config)
                if by_signal:
                    _stop_on_signals(stop)
                watcher = asyncio.create_task(_exit_when(stop, server))
                try:
                    await server.serve(sockets=[listener] if listener is not None else None)
                finally:
                    watcher.cancel()
            else:
                if by_signal:
                    _stop_on_signals(stop)
                await stop.wait()
        finally:
            stop.set()
            self.scheduler.stop()
            if self._socket_retry is not None:
                self._socket_retry.cancel()
            if self.slack.socket is not None and self.socket_open:
                await self.slack.socket.stop()
            self.workers.wake()
            if workers is not None:
                await _join(workers, self.shutdown_grace)
            await self.aclose()

    async def _connect_socket(self) -> None:
        """Open Socket Mode (when configured). A refused token ends ``serve`` with one line;
        an unreachable Slack is tried again in the background while webhooks are served."""
        if self.slack.socket is None:
            return
        try:
            await self.slack.socket.start()
        except ChatError as error:
            if error.kind == FailureKind.AUTH:
                raise ConfigError(f"SLACK_APP_TOKEN: Slack refused it ({error.error})") from None
            log.warning(
                "slack socket mode not connected yet; retrying", extra={"error": str(error)}
            )
            self._socket_retry = asyncio.create_task(self._retry_socket())
            return
        self.socket_open = True

    async def _retry_socket(self) -> None:
        assert self.slack.socket is not None
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self.slack.socket.start()
            except ChatError as error:
                delay = min(delay * 2, 60.0)
                log.warning(
                    "slack socket mode not connected yet; retrying",
                    extra={"error": str(error), "retry_in": delay},
                )
                continue
            self.socket_open = True
            return

    async def aclose(self) -> None:
        """Close every client and the database engine (once)."""
        if self.closed:
            return
        self.closed = True
        try:
            await self.whatsapp.aclose()
        finally:
            try:
                await self.slack.client.aclose()
            finally:
                await self.storage.engine.dispose()


async def _join(task: asyncio.Task[None], grace: float) -> None:
    """Wait for ``task`` up to ``grace`` seconds, then cancel it; never raise."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("workers overran the shutdown grace; cancelling them")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    elif not task.cancelled() and task.exception() is not None:
        log.error("workers stopped with an error", exc_info=task.exception())


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling: it would re-raise SIGTERM after shutting down,
    killing the process before our clean-up runs. Our handlers set ``stop`` instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _exit_when(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True


def build(
    settings: Settings, *, clock: Clock | None = None, http: httpx.AsyncClient | None = None
) -> Bridge:
    """Build the bridge from settings. Creates clients but opens no connection yet."""
    clock = clock or SystemClock()
    metrics = Metrics()  # the calls and latencies of this process, shown by its /metrics
    storage = build_storage(settings)
    numbers = build_numbers(settings, storage=storage)
    # Rate limits Slack and Meta reported, honoured by every process (stored, not in memory).
    holds = StoredHolds(uow=storage.uow, clock=clock)
    whatsapp = build_whatsapp(settings, http=http, numbers=numbers, calls=metrics, holds=holds)
    inbox_wake, jobs_wake = Wakeable(), Wakeable()
    always_settle = settings.reply_settle == "always"
    replies = Replies(
        uow=storage.uow,
        clock=clock,
        settle=REPLY_SETTLE,
        always_settle=always_settle,
        on_queued=jobs_wake.queued,
    )
    templates = build_templates(
        settings, storage=storage, whatsapp=whatsapp, clock=clock, numbers=numbers
    )
    template_messages = (
        TemplateMessages(
            uow=storage.uow,
            whatsapp=whatsapp,
            clock=clock,
            templates=templates,
            phone_number_id=settings.meta_phone_number_id,
            channel=settings.slack_channel_id,
            on_queued=jobs_wake.queued,
            numbers=numbers.numbers,
        )
        if templates is not None
        else None
    )
    status = StatusReports(
        uow=storage.uow,
        clock=clock,
        phone_number_id=settings.meta_phone_number_id,
        channel=settings.slack_channel_id,
        numbers=numbers.numbers,
    )
    slack = build_slack(
        settings,
        replies=replies,
        changes=ReplyChanges(uow=storage.uow, clock=clock),
        clock=clock,
        status=status,
        templates=templates,
        template_messages=template_messages,
        template_picker=(
            TemplatePicker(uow=storage.uow, templates=templates) if templates else None
        ),
        reactions=AgentReactions(
            uow=storage.uow,
            clock=clock,
            settle=REPLY_SETTLE,
            always_settle=always_settle,
            on_queued=jobs_wake.queued,
        ),
        resends=Resends(uow=storage.uow, clock=clock, on_queued=jobs_wake.queued),
        calls=metrics,
        holds=holds,
    )
    workers = build_workers(
        storage=storage,
        chat=slack.surface,
        whatsapp=whatsapp,
        clock=clock,
        numbers=numbers,
        retry_for=settings.retry_for,
        inbox_wake=inbox_wake,
        jobs_wake=jobs_wake,
        relays=metrics,
        templates=templates,
    )
    storage.uow.handoff = workers.jobs
    web = functools.partial(
        build_web,
        settings,
        storage=storage,
        clock=clock,
        slack=slack,
        webhooks=workers,
        templates=templates,
        on_jobs_queued=jobs_wake.queued,
        numbers=numbers,
        metrics=metrics,
    )
    scheduler = build_scheduler(
        settings, storage=storage, clock=clock, templates=templates, on_queued=jobs_wake.queued
    )
    return Bridge(
        settings=settings,
        storage=storage,
        whatsapp=whatsapp,
        replies=replies,
        slack=slack,
        workers=workers,
        scheduler=scheduler,
        app=web(),
        health_app=web(health_only=True),
    )
