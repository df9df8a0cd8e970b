"""Meta's webhooks: the handshake, and events stored durably before the 200.

The route checks the signature and stores the body as it came; the inbox worker parses it
(a body it cannot read becomes a dead letter there, so Meta still hears 200 for it)."""

from __future__ import annotations

import hmac
import logging
import time
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from bridge.ports import NewWebhook
from webhook_server.deps import WebDeps

if TYPE_CHECKING:
    from webhook_server.app import WebApp
from webhook_server.group_commit import GroupCommit
from webhook_server.routes.limits import read_limited
from webhook_server.schemas import WebhookAnswer

__all__ = ["register"]

log = logging.getLogger(__name__)


#: The answer to a stored webhook, as ``JSONResponse({"ok": True})`` renders it.
_STORED: Final = b'{"ok":true}'


def _unavailable() -> JSONResponse:
    # Never a 200 for a webhook not stored: Meta retries anything else. Answered here rather
    # than by the app's catch-all handler, which closes the connection after its answer.
    return JSONResponse(
        {"error": "temporarily unavailable, retry later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def register(app: WebApp, deps: WebDeps) -> None:
    metrics = deps.metrics
    # Concurrent webhooks share a transaction: each still hears 200 only once committed.
    group_commit = GroupCommit(deps.uow)

    @app.get(
        "/webhooks/whatsapp",
        response_class=PlainTextResponse,
        responses={
            200: {"description": "The challenge, echoed."},
            403: {"description": "Not the verify token.", "content": {"text/plain": {}}},
        },
    )
    async def verify_webhook(
        mode: Annotated[str | None, Query(alias="hub.mode")] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
    ) -> PlainTextResponse:
        good = token is not None and hmac.compare_digest(token.encode(), deps.verify_token.encode())
        if mode == "subscribe" and good and challenge is not None:
            return PlainTextResponse(challenge)
        return PlainTextResponse("verification failed", status_code=403)

    async def receive_webhook(request: Request) -> Response:
        """Check, store, and only then answer 200."""
        deps.webhooks.arrived()
        try:
            return await check_and_store(request)
        finally:
            deps.webhooks.answered()

    async def check_and_store(request: Request) -> Response:
        started = time.perf_counter()
        body = await read_limited(request)
        if body is None:
            metrics.webhooks_rejected.labels("too_large").inc()
            return JSONResponse({"error": "payload too large"}, status_code=413)
        # One body, one signature: two headers are refused, whichever of them is right. The
        # content type is not looked at: the signature over the raw bytes is what counts.
        signatures = request.headers.getlist("x-hub-signature-256")
        signature = signatures[0] if len(signatures) == 1 else None
        try:
            signed = await deps.verify_signature(body, signature)
        except Exception:  # the numbers could not be read: the database is away
            log.exception("webhook not checked: the database did not answer")
            return _unavailable()
        if not signed:
            metrics.webhooks_rejected.labels("signature").inc()
            log.warning("webhook rejected: bad signature", extra={"bytes": len(body)})
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            await group_commit.store(NewWebhook(body=body, received_at=deps.clock.now()))
        except Exception:  # unreachable, full, read-only: anything but stored
            log.exception("webhook not stored: the database did not take it")
            return _unavailable()
        # Stored and committed: only now may Meta hear 200.
        metrics.webhooks_received.inc()
        deps.webhooks.stored()
        metrics.webhook_seconds.observe(time.perf_counter() - started)
        return Response(_STORED, media_type="application/json")  # rendered once, not per request

    async def hot_path(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await receive_webhook(Request(scope, receive, send))
        except Exception:  # answered here: this path passes the app's exception handlers
            log.exception("webhook not stored: the request failed")
            response = _unavailable()
        await response(scope, receive, send)

    # Meta's webhooks are the hot path: served past FastAPI's per-request work (see WebApp).
    # The FastAPI route, never reached, describes it in the OpenAPI schema.
    app.hot_posts["/webhooks/whatsapp"] = hot_path
    app.post(
        "/webhooks/whatsapp",
        responses={
            200: {"model": WebhookAnswer, "description": "Stored (or kept as a dead letter)."},
            401: {"model": WebhookAnswer, "description": "Missing or wrong signature."},
            413: {"model": WebhookAnswer, "description": "Body over 1 MiB."},
            503: {"model": WebhookAnswer, "description": "Not stored (database away): retry."},
        },
    )(receive_webhook)
