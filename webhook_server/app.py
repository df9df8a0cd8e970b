"""The FastAPI app: Meta's webhooks, health, metrics, the REST API, and Slack's endpoint.

Everything arrives already built (see ``wabridge.bootstrap``): this module wires the
routes to it and maps errors to HTTP in one place.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.errors import ConversationNotFoundError, InvalidContentError, RefusedError
from webhook_server.deps import WebDeps
from webhook_server.routes import api, health, slack, webhooks
from webhook_server.routes.limits import MAX_BODY_BYTES

__all__ = ["MAX_WEBHOOK_BYTES", "WebApp", "WebDeps", "create_app"]

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = MAX_BODY_BYTES

_PATH_STEP: Final = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _loc(field: str) -> list[str | int]:
    """``content.buttons[3].title`` as FastAPI locates a body field."""
    steps: list[str | int] = ["body"]
    for name, index in _PATH_STEP.findall(field):
        steps.append(int(index) if index else name)
    return steps


def _json_safe(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


class WebApp(FastAPI):
    """FastAPI, with a short way in for the hot path: a POST to a path in ``hot_posts`` goes
    straight to its ASGI handler, past FastAPI's per-request work (its middleware stack,
    telemetry, exit stacks), which cost Meta's webhook route a sixth of its CPU. Such a
    handler answers every error itself: no exception handler of the app is reached."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hot_posts: dict[str, ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.hot_posts.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(deps: WebDeps, *, health_only: bool = False) -> WebApp:
    """The HTTP surface of ``wabridge serve``; with ``health_only``, only liveness, readiness
    and metrics (what a ``worker`` or ``scheduler`` process serves when given a port)."""
    app = WebApp(
        title="wabridge", docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json"
    )

    @app.exception_handler(ConversationNotFoundError)
    async def not_found(request: Request, error: ConversationNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(InvalidContentError)
    async def invalid_content(request: Request, error: InvalidContentError) -> JSONResponse:
        # Shaped like FastAPI's own field errors: one form for every malformed request.
        detail = [{"type": "value_error", "loc": _loc(error.field), "msg": str(error)}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(RefusedError)
    async def refused(request: Request, error: RefusedError) -> JSONResponse:
        details = {key: _json_safe(value) for key, value in error.details.items()}
        detail = {**details, "reason": error.reason, "message": str(error)}
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        # Most often the database: never a 200 that stored nothing. Meta and Slack retry.
        log.exception("request failed", extra={"path": request.url.path})
        return JSONResponse(
            {"detail": "temporarily unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    health.register(app, deps)
    if health_only:
        return app
    webhooks.register(app, deps)
    api.register(app, deps)
    if deps.slack_handler is not None:
        slack.register(app, deps.slack_handler)
    return app
