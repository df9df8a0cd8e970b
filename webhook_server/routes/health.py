"""Liveness, readiness (with the reason any adapter's work is paused), and metrics."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.jobs import Lane
from bridge.usecases.counts import REPLIES_WINDOW_CLOSED, WARNINGS_POSTED
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
            now = deps.clock.now()
            async with deps.uow() as uow:
                inbox = await uow.inbox.depth()
                inbox_oldest = await uow.inbox.oldest_pending_received_at()
                jobs = await uow.jobs.counts(now=now)
                lanes = {q.lane: q for q in await uow.jobs.lane_queues(now=now)}
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
            metrics.inbox_lag.set(_age(inbox_oldest, now))
            metrics.outbox_depth.set(jobs.pending)
            for lane in Lane:
                queue = lanes.get(lane)
                metrics.lane_depth.labels(lane.value).set(queue.pending if queue else 0)
                oldest = queue.oldest_due if queue else None
                metrics.oldest_due.labels(lane.value).set(_age(oldest, now))
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
            metrics.warnings_posted.set(counters.get(WARNINGS_POSTED, 0))
            metrics.replies_window_closed.set(counters.get(REPLIES_WINDOW_CLOSED, 0))
            metrics.purged.set({k.value: counters.get(PURGED + k.value, 0) for k in Purged})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _age(since: datetime | None, now: datetime) -> float:
    """Seconds from ``since`` to ``now``; 0 for nothing (or a clock that disagrees)."""
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0
