"""Liveness, readiness (with the reason any adapter's work is paused), and metrics."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.jobs import Lane
from bridge.usecases.retention import COUNTER_PREFIX as PURGED
from bridge.usecases.retention import Purged
from bridge.usecases.statuses import UNKNOWN_STATUSES
from webhook_server.deps import WebDeps
from webhook_server.schemas import Readiness

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(app: FastAPI, deps: WebDeps) -> None:
    metrics = deps.metrics

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        responses={
            200: {"model": Readiness, "description": "The database answers, schema at head."},
            503: {"model": Readiness, "description": "Not ready: the reason, when known."},
        },
    )
    async def readyz() -> JSONResponse:
        try:
            ready = await deps.ready()
            async with deps.uow() as uow:
                pauses = await uow.pauses.active()
        except Exception as error:  # any database failure means "not ready", never a 500
            log.warning("not ready", extra={"reason": type(error).__name__})
            return JSONResponse({"status": "not ready"}, status_code=503)
        if not ready:
            return JSONResponse(
                {"status": "not ready", "reason": "the database schema is not at head"},
                status_code=503,
            )
        # The database is fine, so webhooks are still stored: ready, but say what waits.
        body: dict[str, object] = {"status": "degraded" if pauses else "ready"}
        if pauses:
            body["paused"] = [
                {"lane": p.lane.value, "reason": p.reason, "since": p.since.isoformat()}
                for p in pauses
            ]
        return JSONResponse(body)

    @app.get("/metrics", response_class=PlainTextResponse, description="Prometheus text format.")
    async def metrics_endpoint() -> Response:
        metrics.listeners_running.set(deps.listeners_running())
        try:
            async with deps.uow() as uow:
                inbox = await uow.inbox.depth()
                jobs = await uow.jobs.counts(now=deps.clock.now())
                failures = [
                    *(await uow.jobs.failure_counts()),
                    *(await uow.inbox.failure_counts()),
                ]
                paused = {p.lane for p in await uow.pauses.active()}
                counters = await uow.counters.all()
        except Exception:
            log.warning("metrics: the database did not answer")
        else:
            metrics.inbox_depth.set(inbox)
            metrics.outbox_depth.set(jobs.pending)
            for state, value in (
                ("due", jobs.due),
                ("running", jobs.running),
                ("waiting", jobs.waiting),
            ):
                metrics.jobs.labels(state).set(value)
            metrics.failed.clear()  # a replayed failure is gone, not zero
            for failure in failures:
                metrics.failed.labels(failure.kind, failure.reason).set(failure.count)
            for lane in Lane:
                metrics.paused.labels(lane.value).set(1 if lane in paused else 0)
            metrics.statuses_unknown.set(counters.get(UNKNOWN_STATUSES, 0))
            metrics.purged.set({k.value: counters.get(PURGED + k.value, 0) for k in Purged})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
