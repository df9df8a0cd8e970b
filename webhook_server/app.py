"""The FastAPI app: Meta's webhooks, health, metrics, the REST API, and Slack's endpoint.

Everything arrives already built (see ``wabridge.bootstrap``): this module wires the
routes to it and maps errors to HTTP in one place.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bridge.errors import ConversationNotFoundError
from webhook_server.deps import WebDeps
from webhook_server.routes import api, health, slack, webhooks
from webhook_server.routes.limits import MAX_BODY_BYTES

__all__ = ["MAX_WEBHOOK_BYTES", "WebDeps", "create_app"]

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = MAX_BODY_BYTES


def create_app(deps: WebDeps) -> FastAPI:
    """The HTTP surface of ``wabridge serve``."""
    app = FastAPI(
        title="wabridge", docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json"
    )

    @app.exception_handler(ConversationNotFoundError)
    async def not_found(request: Request, error: ConversationNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Exception)
    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        # Most often the database: never a 200 that stored nothing. Meta and Slack retry.
        log.exception("request failed", extra={"path": request.url.path})
        return JSONResponse(
            {"detail": "temporarily unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    webhooks.register(app, deps)
    health.register(app, deps)
    api.register(app, deps)
    if deps.slack_handler is not None:
        slack.register(app, deps.slack_handler)
    return app
