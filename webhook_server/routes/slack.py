"""Slack's one Request URL: events, commands, interactivity and shortcuts."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from webhook_server.deps import SlackHandler
from webhook_server.routes.limits import read_limited

__all__ = ["register"]


def register(app: FastAPI, handler: SlackHandler) -> None:
    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        body = await read_limited(request)
        if body is None:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        answer = await handler(body, request.headers, request.url.query)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))
