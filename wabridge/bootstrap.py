"""The composition root: builds every part of wabridge from the settings, and runs them.

Each part has its own builder (storage, WhatsApp, Slack, workers, web) taking what it needs
and allowing overrides; ``build`` composes them, and tests build through the same builders
with fakes in place of the outside world.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import httpx
import uvicorn
from fastapi import FastAPI
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bridge.domain import FailureKind
from bridge.errors import ChatError
from bridge.pacing import Rate
from bridge.ports import (
    CallObserver,
    ChatSurface,
    Clock,
    Holds,
    RelayObserver,
    Unobserved,
    WhatsApp,
)
from bridge.usecases import job_handlers
from bridge.usecases.api import RestApi
from bridge.usecases.holds import StoredHolds
from bridge.usecases.numbers import NumberBook
from bridge.usecases.reactions import AgentReactions
from bridge.usecases.replies import REPLY_SETTLE, Replies, ReplyChanges
from bridge.usecases.resends import Resends
from bridge.usecases.retention import Retention
from bridge.usecases.schedule import Slots
from bridge.usecases.status import StatusReports
from bridge.usecases.templates import TemplateMessages, TemplatePicker, Templates
from bridge.usecases.warnings import WindowWatch
from bridge.workers import DEFAULT_LEASE, InboxWorker, JobWorker, Wakeable, run_loop
from scheduler.jobs.retention import retention_purge
from scheduler.jobs.templates import template_sync
from scheduler.jobs.windows import window_scan
from scheduler.runner import Scheduler
from slack_app.http import AUTHORIZE_FAILED, SlackEndpoint
from slack_app.listeners import Activity, ListenerDeps, register_all
from slack_app.observed import ObservedWebClient
from slack_app.pacing import SlackPacing, SlackRates, tier_rates
from slack_app.socket import SocketMode
from slack_app.surface import SlackSurface
from slack_app.users import SlackUserNames
from storage import notify
from wabridge.base import Storage, SystemClock, build_storage, default_number
from wabridge.logs import also_redact
from wabridge.settings import ConfigError, Settings, unused_settings
from webhook_server.app import WebDeps, create_app
from webhook_server.metrics import Metrics
from whatsapp.client import WhatsAppClient
from whatsapp.content import ContentRules
from whatsapp.pacing import MetaPacing, MetaRates
from whatsapp.signature import WebhookSignatures
from whatsapp.webhooks import WebhookParser

__all__ = [
    "Bridge",
    "Role",
    "Slack",
    "Storage",
    "SystemClock",
    "Workers",
    "build",
    "build_scheduler",
    "build_slack",
    "build_storage",
    "build_templates",
    "build_web",
    "build_whatsapp",
    "build_workers",
]

log = logging.getLogger(__name__)

#: How long shutdown waits for running jobs before cancelling them (their leases run out
#: and another worker takes them over).
SHUTDOWN_GRACE: Final = 10.0


class Role(enum.StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"


# --- WhatsApp ---------------------------------------------------------------------------------


def build_numbers(settings: Settings, *, storage: Storage) -> NumberBook:
    """The business numbers: the environment's is the default; more with ``numbers add``."""
    return NumberBook(uow=storage.uow, default=default_number(settings), on_secrets=also_redact)


def meta_rates(settings: Settings) -> MetaRates:
    """Sends per business number (a second's worth at once) and to one recipient."""
    per_second = settings.meta_rate
    return MetaRates(
        number=Rate(per_second=per_second, burst=max(1, round(per_second))),
        pair=Rate(per_second=settings.meta_pair_rate, burst=settings.meta_pair_burst),
    )


def build_whatsapp(
    settings: Settings,
    *,
    http: httpx.AsyncClient | None = None,
    numbers: NumberBook | None = None,
    calls: CallObserver | None = None,
    holds: Holds | None = None,
) -> WhatsAppClient:
    return WhatsAppClient(
        base_url=settings.meta_api_base,
        version=settings.meta_api_version,
        access_token=settings.meta_access_token.get_secret_value(),
        http=http,
        # Sends are retried as jobs, in order, with Meta's backoff; one try here keeps every
        # call well inside the job's lease.
        max_attempts=1,
        token_for=numbers.token_for if numbers is not None else None,
        calls=calls,
        pacing=MetaPacing(rates=meta_rates(settings), holds=holds),
    )


def build_templates(
    settings: Settings, *, storage: Storage, whatsapp: WhatsApp, clock: Clock
) -> Templates | None:
    """The account's templates, or None without ``META_WABA_ID``."""
    if not settings.meta_waba_id:
        return None
    return Templates(uow=storage.uow, whatsapp=whatsapp, clock=clock, waba_id=settings.meta_waba_id)


def require_templates(templates: Templates | None) -> Templates:
    if templates is None:
        raise ConfigError("META_WABA_ID is required for templates but not set")
    return templates


# --- Slack ------------------------------------------------------------------------------------


def slack_rates(settings: Settings) -> SlackRates:
    """Posts per channel, and each of Slack's four tiers (settings in calls a second)."""
    return SlackRates(
        post=Rate(per_second=settings.slack_post_rate, burst=settings.slack_post_burst),
        tiers=tier_rates([rate * 60 for rate in settings.slack_tier_rates]),
    )


@dataclass(frozen=True, kw_only=True)
class Slack:
    app: AsyncApp
    #: The Web API client of the app and the surface (closed when the process stops).
    client: ObservedWebClient
    surface: SlackSurface
    #: Slack's HTTP requests; None in Socket Mode without a signing secret.
    endpoint: SlackEndpoint | None
    activity: Activity
    #: Socket Mode, when SLACK_APP_TOKEN is set.
    socket: SocketMode | None = None


class _BotTokenInEnvironment(logging.Filter):
    """Drops bolt's warning that the token is unused: bolt reads ``SLACK_BOT_TOKEN`` from the
    environment whenever it is set (as the contract names it), and we give it the client,
    which holds the token, on purpose. It said so at every start of every process."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_BOT_TOKEN_IN_ENVIRONMENT: Final = _BotTokenInEnvironment()


def build_slack(
    settings: Settings,
    *,
    replies: Replies,
    changes: ReplyChanges,
    clock: Clock,
    status: StatusReports,
    templates: Templates | None = None,
    template_messages: TemplateMessages | None = None,
    template_picker: TemplatePicker | None = None,
    reactions: AgentReactions | None = None,
    resends: Resends | None = None,
    calls: CallObserver | None = None,
    holds: Holds | None = None,
) -> Slack:
    """The bolt app with every listener, and the surface the workers post through.

    Both share bolt's client: one Slack Web API client per process, reporting its calls.
    """
    signing_secret = settings.slack_signing_secret
    logger = logging.getLogger("slack_app.bolt")
    logger.addFilter(_BOT_TOKEN_IN_ENVIRONMENT)  # once: the same filter is not added twice
    client = ObservedWebClient(
        calls=calls or Unobserved(),
        token=settings.slack_bot_token.get_secret_value(),
        # The API root is ours to choose (the simulator), not necessarily slack.com.
        base_url=settings.slack_api_url_normalized,
        # Well below a job's lease, so a slow call never outlives its claim.
        timeout=10,
        logger=logger,
    )
    app = AsyncApp(
        client=client,
        # Optional in Socket Mode: the connection itself is authenticated.
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        logger=logger,
        # Answered 503 by our endpoint, not bolt's 200 that drops the request: Slack retries.
        user_facing_authorize_error_message=AUTHORIZE_FAILED,
    )
    activity = Activity()
    register_all(
        app,
        ListenerDeps(
            replies=replies,
            changes=changes,
            users=SlackUserNames(app.client),
            note_prefix=settings.note_prefix,
            status=status,
            templates=templates,
            template_messages=template_messages,
            template_picker=template_picker,
            reactions=reactions,
            resends=resends,
            clock=clock.now,
            activity=activity,
        ),
    )
    surface = SlackSurface(
        client=app.client,
        pacing=SlackPacing(rates=slack_rates(settings), holds=holds),
        now=clock.now,
        template_button=templates is not None,
    )
    app_token = settings.slack_app_token
    return Slack(
        app=app,
        client=client,
        surface=surface,
        endpoint=(
            SlackEndpoint(app, signing_secret=signing_secret.get_secret_value())
            if signing_secret
            else None
        ),
        activity=activity,
        socket=SocketMode(app, app_token.get_secret_value()) if app_token else None,
    )


# --- workers ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Workers:
    inbox: InboxWorker
    jobs: JobWorker
    inbox_wake: Wakeable
    jobs_wake: Wakeable
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
                run_loop("inbox", self.inbox.step, self.inbox_wake, idle=idle, stop=stop),
                run_loop("jobs", self.jobs.step, self.jobs_wake, idle=idle, stop=stop),
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
) -> Workers:
    inbox_wake = inbox_wake or Wakeable()
    jobs_wake = jobs_wake or Wakeable()
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
    )
    jobs = JobWorker(
        uow=storage.uow,
        handlers=job_handlers(
            uow=storage.uow, chat=chat, whatsapp=whatsapp, clock=clock, relays=relays
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
            {notify.INBOX: inbox_wake.wake, notify.JOBS: jobs_wake.wake},
        )
    )
    return Workers(
        inbox=inbox, jobs=jobs, inbox_wake=inbox_wake, jobs_wake=jobs_wake, listen=listen
    )


# --- scheduler ---------------------------------------------------------------------------


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


# --- web --------------------------------------------------------------------------------------


def build_web(
    settings: Settings,
    *,
    storage: Storage,
    clock: Clock,
    slack: Slack | None,
    on_webhook_stored: Callable[[], None],
    templates: Templates | None = None,
    on_jobs_queued: Callable[[float], None] = lambda due_in: None,
    numbers: NumberBook | None = None,
    metrics: Metrics | None = None,
    health_only: bool = False,
) -> FastAPI:
    """The HTTP endpoints; ``metrics`` is what the process's other parts report to. With
    ``health_only``: ``/healthz``, ``/readyz`` and ``/metrics`` alone."""
    numbers = numbers or build_numbers(settings, storage=storage)
    signatures = WebhookSignatures(
        app_secret=settings.meta_app_secret.get_secret_value(),
        secrets_for=numbers.secrets_for,
        any_own_secret=numbers.any_own_secret,
        reload=numbers.reload_unless_recent,
    )
    api_token = settings.wabridge_api_token
    return create_app(
        WebDeps(
            uow=storage.uow,
            verify_signature=signatures.verify,
            verify_token=settings.meta_verify_token.get_secret_value(),
            api_token=api_token.get_secret_value() if api_token else None,
            api=RestApi(
                uow=storage.uow,
                clock=clock,
                content=ContentRules(),
                templates=templates,
                on_queued=on_jobs_queued,
            ),
            clock=clock,
            ready=storage.ready,
            on_webhook_stored=on_webhook_stored,
            slack_handler=slack.endpoint if slack is not None else None,
            metrics=metrics or Metrics(),
            listeners_running=(lambda: slack.activity.running) if slack is not None else lambda: 0,
        ),
        health_only=health_only,
    )


# --- the whole bridge ---------------------------------------------------------------------------


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
    ) -> None:
        """Run the roles asked for until a signal (or ``stop``) ends the process.

        ``all`` and ``web`` serve every endpoint on ``host:port``; ``worker`` and ``scheduler``
        serve nothing, or with ``http`` only ``/healthz``, ``/readyz`` and ``/metrics`` (the
        calls and latencies of that process, which no other process can report).

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
                    await server.serve()
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
    templates = build_templates(settings, storage=storage, whatsapp=whatsapp, clock=clock)
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
    )
    storage.uow.handoff = workers.jobs
    web = functools.partial(
        build_web,
        settings,
        storage=storage,
        clock=clock,
        slack=slack,
        on_webhook_stored=inbox_wake.wake,
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
