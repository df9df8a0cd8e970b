"""Slack's one Request URL: events, commands, interactivity and shortcuts.

Served past FastAPI's per-request work, as Meta's webhooks are (see ``WebApp``): every post
the bridge makes comes back as an event, so this route is as busy as Meta's."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from webhook_server.deps import SlackHandler
from webhook_server.routes.limits import read_limited

if TYPE_CHECKING:
    from webhook_server.app import WebApp

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(app: WebApp, handler: SlackHandler) -> None:
    async def slack_events(request: Request) -> Response:
        body = await read_limited(request)
        if body is None:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        query = request.scope["query_string"].decode("latin-1")
        answer = await handler(body, request.headers, query)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    async def hot_path(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await slack_events(Request(scope, receive, send))
        except Exception:  # answered here: this path passes the app's exception handlers
            log.exception("slack request failed")
            # Not a 200: Slack sends the request again.
            response = JSONResponse(
                {"detail": "temporarily unavailable, retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        await response(scope, receive, send)

    app.hot_posts["/slack/events"] = hot_path
    # Never reached (the hot path answers first); it describes the route in the schema.
    app.post("/slack/events")(slack_events)
