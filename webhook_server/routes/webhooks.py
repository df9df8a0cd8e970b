"""Meta's webhooks: the handshake, and events stored durably before the 200."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from bridge.errors import WebhookParseError
from bridge.ports import NewWebhook
from webhook_server.deps import WebDeps
from webhook_server.group_commit import GroupCommit
from webhook_server.routes.limits import read_limited
from webhook_server.schemas import WebhookAnswer

__all__ = ["register"]

log = logging.getLogger(__name__)


def _unavailable() -> JSONResponse:
    # Never a 200 for a webhook not stored: Meta retries anything else. Answered here rather
    # than by the app's catch-all handler, which closes the connection after its answer.
    return JSONResponse(
        {"error": "temporarily unavailable, retry later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def register(app: FastAPI, deps: WebDeps) -> None:
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
        dead_reason: str | None = None
        try:
            deps.parser.parse(body)
        except WebhookParseError as error:
            dead_reason = str(error)
        try:
            inbox_id = await group_commit.store(
                NewWebhook(body=body, received_at=deps.clock.now(), dead_reason=dead_reason)
            )
        except Exception:  # unreachable, full, read-only: anything but stored
            log.exception("webhook not stored: the database did not take it")
            return _unavailable()
        # Stored and committed: only now may Meta hear 200.
        if dead_reason is None:
            metrics.webhooks_received.inc()
            deps.on_webhook_stored()
        else:
            metrics.webhooks_dead.inc()
            log.warning("webhook kept as dead letter", extra={"inbox_id": inbox_id})
        metrics.webhook_seconds.observe(time.perf_counter() - started)
        return JSONResponse({"ok": True})

    # Meta's webhooks are the hot path: served by a plain Starlette route placed first, without
    # FastAPI's per-request work (dependency solving, exit stacks), which is most of what a
    # request costs here. The FastAPI route, never reached, describes it in the OpenAPI schema.
    app.router.routes.insert(0, Route("/webhooks/whatsapp", receive_webhook, methods=["POST"]))
    app.post(
        "/webhooks/whatsapp",
        responses={
            200: {"model": WebhookAnswer, "description": "Stored (or kept as a dead letter)."},
            401: {"model": WebhookAnswer, "description": "Missing or wrong signature."},
            413: {"model": WebhookAnswer, "description": "Body over 1 MiB."},
            503: {"model": WebhookAnswer, "description": "Not stored (database away): retry."},
        },
    )(receive_webhook)
