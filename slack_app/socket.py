"""Socket Mode: Slack reached over a WebSocket the bridge opens, with the same listeners.

No public Slack URL is needed then, and Slack's requests need no signing secret (the
connection itself is authenticated with the app-level ``xapp-`` token).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import (
    run_async_bolt_app,
    send_async_response,
)
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bridge.domain import FailureKind
from bridge.errors import ChatError
from slack_app.errors import classify
from slack_app.http import AUTHORIZE_FAILED
from slack_app.listeners.messages import a_bots_post

__all__ = ["SocketMode"]

log = logging.getLogger(__name__)

#: How long a first connection may take before it is tried again in the background.
CONNECT_TIMEOUT: Final = 30.0


class _Handler(AsyncSocketModeHandler):
    """Bolt's handler, except for an envelope whose token check failed: bolt answers it 200
    (with a message for the user) and would ack it, and Slack would never send it again. It
    is left unacked, so Slack sends it again, as the HTTP endpoint answers such a request
    ``503`` (``slack_app.http``)."""

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        if req.type == "events_api" and a_bots_post(req.payload):
            # A bot's post coming back (each of the bridge's own does): acked before bolt,
            # as the HTTP endpoint answers it (``slack_app.http``).
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        started = time.time()
        answer = await run_async_bolt_app(self.app, req)
        if answer.body == AUTHORIZE_FAILED:
            log.warning(
                "slack envelope not acked: the token could not be checked; Slack sends it again",
                extra={"envelope_id": req.envelope_id},
            )
            return
        await send_async_response(client, req, answer, started)


class SocketMode:
    """One Socket Mode connection for the bolt app (slack_sdk reconnects it when it drops)."""

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self._app = app
        self._app_token = app_token
        self._handler: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        """Open the connection; ``ChatError`` (kind AUTH for a refused token) if it cannot."""
        if self._handler is None:  # it binds to the running event loop
            self._handler = _Handler(self._app, self._app_token, web_client=self._app.client)
        try:
            # slack_sdk's connect() retries a refused token for ever, quietly: ask first.
            await self._app.client.apps_connections_open(app_token=self._app_token)
            await asyncio.wait_for(
                self._handler.connect_async(),  # type: ignore[no-untyped-call]  # bolt's stubs
                timeout=CONNECT_TIMEOUT,
            )
        except SlackApiError as error:
            code = str(error.response.get("error", "")) or f"http_{error.response.status_code}"
            kind = classify(code, error.response.status_code)
            if code in ("not_allowed_token_type", "invalid_auth", "not_authed"):
                kind = FailureKind.AUTH
            raise ChatError(f"apps.connections.open: {code}", kind=kind, error=code) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ChatError(
                f"Socket Mode: {type(error).__name__}",
                kind=FailureKind.TRANSIENT,
                error="connection",
            ) from None
        log.info("slack socket mode connected")

    async def stop(self) -> None:
        if self._handler is not None:
            await self._handler.close_async()  # type: ignore[no-untyped-call]
