"""The HTTP endpoints, wired to the rest."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from bridge.ports import (
    Clock,
)
from bridge.usecases.api import RestApi
from bridge.usecases.numbers import NumberBook
from bridge.usecases.templates import Templates
from wabridge.base import Storage
from wabridge.bootstrap.meta import build_numbers
from wabridge.bootstrap.slack import Slack
from wabridge.settings import Settings
from webhook_server.app import WebDeps, create_app
from webhook_server.deps import QUIET, WebhookTraffic
from webhook_server.metrics import Metrics
from whatsapp.content import ContentRules
from whatsapp.signature import WebhookSignatures


def build_web(
    settings: Settings,
    *,
    storage: Storage,
    clock: Clock,
    slack: Slack | None,
    webhooks: WebhookTraffic = QUIET,
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
            slack_handler=slack.endpoint if slack is not None else None,
            metrics=metrics or Metrics(),
            listeners_running=(lambda: slack.activity.running) if slack is not None else lambda: 0,
            webhooks=webhooks,
        ),
        health_only=health_only,
    )
