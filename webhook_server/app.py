"""The FastAPI app: Meta's webhooks, health, metrics, the REST API, and Slack's endpoint.

Everything arrives already built (see ``wabridge.bootstrap``): this module wires
routes to it and maps errors to HTTP in one place.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.errors import WebhookParseError
from bridge.ports import Clock, ConversationRecord, MessageRecord, UnitOfWorkFactory, WebhookParser
from webhook_server.metrics import Metrics

__all__ = ["MAX_WEBHOOK_BYTES", "WebDeps", "create_app"]

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class WebDeps:
    """What the web layer needs, built by the composition root."""

    uow: UnitOfWorkFactory
    parser: WebhookParser
    verify_signature: Callable[[bytes, str | None], bool]
    verify_token: str
    api_token: str | None
    clock: Clock
    ready: Callable[[], Awaitable[bool]]
    on_webhook_stored: Callable[[], None]
    slack_handler: Callable[[Request], Awaitable[Response]] | None
    metrics: Metrics


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def conversation_json(c: ConversationRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "contact": {"wa_id": c.contact_id, "name": c.contact_name},
        "slack_channel": c.slack_channel,
        "slack_thread_ts": c.slack_thread_ts,
        "window_expires_at": _iso(c.window_expires_at),
        "last_message_at": _iso(c.last_message_at),
        "total_messages": c.total_messages,
    }


def message_json(m: MessageRecord) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "direction": m.direction.value,
        "sender_type": m.sender_type.value,
        "message_type": m.message_type,
        "content": m.content,
        "status": m.status.value,
        "whatsapp_message_id": m.wamid,
        "created_at": _iso(m.created_at),
        "sent_at": _iso(m.sent_at),
        "delivered_at": _iso(m.delivered_at),
        "read_at": _iso(m.read_at),
        "failed_at": _iso(m.failed_at),
        "error_code": m.error_code,
        "error_message": m.error_message or m.error_title,
    }


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes ``limit`` bytes (never buffers more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(deps: WebDeps) -> FastAPI:
    """The HTTP surface of ``wabridge serve``."""
    app = FastAPI(
        title="wabridge", docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json"
    )
    metrics = deps.metrics

    @app.get("/webhooks/whatsapp", response_class=PlainTextResponse)
    async def verify_webhook(
        mode: Annotated[str | None, Query(alias="hub.mode")] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
    ) -> PlainTextResponse:
        good = token is not None and hmac.compare_digest(token.encode(), deps.verify_token.encode())
        if mode == "subscribe" and good and challenge is not None:
            return PlainTextResponse(challenge)
        return PlainTextResponse("verification failed", status_code=403)

    @app.post("/webhooks/whatsapp")
    async def receive_webhook(request: Request) -> Response:
        started = time.perf_counter()
        body = await _read_limited(request, MAX_WEBHOOK_BYTES)
        if body is None:
            metrics.webhooks_rejected.labels("too_large").inc()
            return JSONResponse({"error": "payload too large"}, status_code=413)
        if not deps.verify_signature(body, request.headers.get("x-hub-signature-256")):
            metrics.webhooks_rejected.labels("signature").inc()
            log.warning("webhook rejected: bad signature", extra={"bytes": len(body)})
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        dead_reason: str | None = None
        try:
            deps.parser.parse(body)
        except WebhookParseError as error:
            dead_reason = str(error)
        async with deps.uow() as uow:
            inbox_id = await uow.inbox.store(
                body, received_at=deps.clock.now(), dead_reason=dead_reason
            )
            await uow.commit()
        # Stored and committed: only now may Meta hear 200.
        if dead_reason is None:
            metrics.webhooks_received.inc()
            deps.on_webhook_stored()
        else:
            metrics.webhooks_dead.inc()
            log.warning("webhook kept as dead letter", extra={"inbox_id": inbox_id})
        metrics.webhook_seconds.observe(time.perf_counter() - started)
        return JSONResponse({"ok": True})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            ready = await deps.ready()
        except Exception as error:  # any database failure means "not ready", never a 500
            log.warning("not ready", extra={"reason": type(error).__name__})
            ready = False
        return JSONResponse(
            {"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503
        )

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        try:
            async with deps.uow() as uow:
                metrics.inbox_depth.set(await uow.inbox.depth())
                metrics.outbox_depth.set(await uow.outbox.depth())
        except Exception:
            log.warning("metrics: queue depths unavailable")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def require_token(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        expected = deps.api_token
        if (
            not expected
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            raise HTTPException(
                status_code=401,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    authorized = [Depends(require_token)]

    @app.get("/api/v1/conversations", dependencies=authorized)
    async def list_conversations(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        async with deps.uow() as uow:
            rows = await uow.conversations.list_recent(limit=limit, offset=offset)
        return [conversation_json(c) for c in rows]

    @app.get("/api/v1/conversations/{conversation_id}/messages", dependencies=authorized)
    async def list_messages(conversation_id: int) -> list[dict[str, Any]]:
        async with deps.uow() as uow:
            if await uow.conversations.get(conversation_id) is None:
                raise HTTPException(status_code=404, detail="conversation not found")
            rows = await uow.messages.for_conversation(conversation_id)
        return [message_json(m) for m in rows]

    if deps.slack_handler is not None:
        handler = deps.slack_handler

        @app.post("/slack/events")
        async def slack_events(request: Request) -> Response:
            return await handler(request)

    return app
