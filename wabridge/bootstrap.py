"""The composition root: builds every part of wabridge from the settings, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bridge.relay import Relay
from bridge.workers import InboxWorker, OutboxWorker, Wakeable, run_loop
from slack_app.listeners import build_app
from slack_app.pacing import ChannelPacer
from slack_app.surface import SlackSurface
from storage.db import create_engine, is_sqlite, schema_is_current
from storage.uow import SqlUnitOfWorkFactory
from wabridge.settings import ConfigError, Settings
from webhook_server.app import WebDeps, create_app
from webhook_server.metrics import Metrics
from whatsapp.client import WhatsAppClient
from whatsapp.errors import advice
from whatsapp.signature import verify_signature
from whatsapp.webhooks import WebhookParser

__all__ = ["Bridge", "SystemClock", "build", "secrets_of"]

log = logging.getLogger(__name__)

ROLES = ("all", "web", "worker", "scheduler")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings, for the log scrubber."""
    values = [
        settings.meta_access_token,
        settings.meta_app_secret,
        settings.meta_verify_token,
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.wabridge_api_token,
    ]
    return [v.get_secret_value() for v in values if v is not None]


@dataclass(kw_only=True)
class Bridge:
    """Everything ``wabridge serve`` runs, built and wired."""

    settings: Settings
    engine: AsyncEngine
    whatsapp: WhatsAppClient
    relay: Relay
    inbox_worker: InboxWorker
    outbox_worker: OutboxWorker
    app: FastAPI
    inbox_wake: Wakeable = field(default_factory=Wakeable)
    outbox_wake: Wakeable = field(default_factory=Wakeable)

    async def run_workers(self, stop: asyncio.Event, *, idle: float = 0.5) -> None:
        """The inbox and outbox loops, until ``stop`` is set."""
        await asyncio.gather(
            run_loop("inbox", self.inbox_worker.run_once, self.inbox_wake, idle=idle, stop=stop),
            run_loop("outbox", self.outbox_worker.run_once, self.outbox_wake, idle=idle, stop=stop),
        )

    async def serve(self, *, host: str, port: int, role: str) -> None:
        """Run the roles asked for until a signal stops the process."""
        stop = asyncio.Event()
        workers: asyncio.Task[None] | None = None
        if role in ("all", "worker"):
            workers = asyncio.create_task(self.run_workers(stop))
        try:
            if role in ("all", "web"):
                config = uvicorn.Config(
                    self.app, host=host, port=port, log_config=None, access_log=False
                )
                await uvicorn.Server(config).serve()
            else:
                if role == "scheduler":
                    log.info("scheduler role: this version has no scheduled jobs yet")
                await _wait_for_signal()
        finally:
            stop.set()
            self.inbox_wake.wake()
            self.outbox_wake.wake()
            if workers is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(workers, timeout=10)
            await self.aclose()

    async def aclose(self) -> None:
        await self.whatsapp.aclose()
        await self.engine.dispose()


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()


def build(settings: Settings, *, clock: SystemClock | None = None) -> Bridge:
    """Build the bridge from settings. Creates clients but opens no connection yet."""
    if settings.slack_app_token is not None:
        # Better a clear refusal than a bridge that silently hears nothing from Slack.
        raise ConfigError(
            "SLACK_APP_TOKEN: Socket Mode is not supported yet; unset it and use HTTP mode "
            "with SLACK_SIGNING_SECRET"
        )
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    uow = SqlUnitOfWorkFactory(engine)
    whatsapp = WhatsAppClient(
        base_url=settings.meta_api_base,
        version=settings.meta_api_version,
        access_token=settings.meta_access_token.get_secret_value(),
        # Sends are retried by the outbox, with Meta's backoff; one try here keeps every
        # call well inside the outbox lease, so no two workers ever send the same reply.
        max_attempts=1,
    )
    inbox_wake, outbox_wake = Wakeable(), Wakeable()
    relay = Relay(
        uow=uow,
        whatsapp=whatsapp,
        clock=clock,
        slack_channel=settings.slack_channel_id,
        on_outbound_work=outbox_wake.wake,
    )
    signing_secret = settings.slack_signing_secret
    if signing_secret is None:  # settings allow that only with SLACK_APP_TOKEN, refused above
        raise ConfigError("SLACK_SIGNING_SECRET is required")
    bolt = build_app(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url_normalized,
        signing_secret=signing_secret.get_secret_value(),
        relay=relay,
        note_prefix=settings.note_prefix,
    )
    bolt_handler = AsyncSlackRequestHandler(bolt)

    async def slack_handler(request: Request) -> Response:
        return await bolt_handler.handle(request)

    surface = SlackSurface(
        client=bolt.client, pacer=ChannelPacer(rate=1.0, burst=8), advice=advice, now=clock.now
    )
    inbox_worker = InboxWorker(
        uow=uow,
        parser=WebhookParser(),
        relay=relay,
        clock=clock,
        on_outbox_work=outbox_wake.wake,
        # SQLite: one webhook per transaction, as a longer one holds up incoming webhooks.
        batch=1 if is_sqlite(settings.database_url) else 5,
    )
    outbox_worker = OutboxWorker(uow=uow, chat=surface, relay=relay, clock=clock)

    async def ready() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return await schema_is_current(engine)

    app_secret = settings.meta_app_secret.get_secret_value()
    api_token = settings.wabridge_api_token
    app = create_app(
        WebDeps(
            uow=uow,
            parser=WebhookParser(),
            verify_signature=lambda body, header: verify_signature(app_secret, body, header),
            verify_token=settings.meta_verify_token.get_secret_value(),
            api_token=api_token.get_secret_value() if api_token else None,
            clock=clock,
            ready=ready,
            on_webhook_stored=inbox_wake.wake,
            slack_handler=slack_handler,
            metrics=Metrics(),
        )
    )
    return Bridge(
        settings=settings,
        engine=engine,
        whatsapp=whatsapp,
        relay=relay,
        inbox_worker=inbox_worker,
        outbox_worker=outbox_worker,
        app=app,
        inbox_wake=inbox_wake,
        outbox_wake=outbox_wake,
    )
