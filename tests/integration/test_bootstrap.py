"""The composition root: what ``wabridge serve`` builds, and how it shuts down."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from pathlib import Path

import httpx
import pytest

from bridge.workers import Rush
from sandbox.server import free_port
from tests import payloads
from tests.fakes import T0
from wabridge.bootstrap import Role, build
from wabridge.settings import load_settings

REQUIRED = {
    "META_ACCESS_TOKEN": "EAAG-bootstrap-token",
    "META_APP_SECRET": "bootstrap-app-secret",
    "META_VERIFY_TOKEN": "verify",
    "META_PHONE_NUMBER_ID": "123",
    "SLACK_BOT_TOKEN": "xoxb-bootstrap",
    "SLACK_SIGNING_SECRET": "bootstrap-signing-secret",
    "SLACK_CHANNEL_ID": "C1",
}


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)
    for name, value in {**REQUIRED, "DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


async def test_a_bridge_started_from_the_documented_environment_warns_of_nothing(
    settings_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # SLACK_BOT_TOKEN, as the contract names it, is also what bolt looks for by itself.
    with caplog.at_level(logging.WARNING):
        bridge = build(load_settings())
        await bridge.aclose()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_shutdown_closes_the_clients_even_when_workers_overrun(
    settings_env: pytest.MonkeyPatch,
) -> None:
    bridge = build(load_settings())
    bridge.shutdown_grace = 0.2
    started = asyncio.Event()

    async def stubborn(stop: asyncio.Event, *, idle: float = 0.5) -> None:
        started.set()
        await asyncio.sleep(3600)  # ignores stop, as a worker stuck in a call would

    bridge.workers.run = stubborn  # type: ignore[method-assign]
    stop = asyncio.Event()
    serving = asyncio.create_task(
        bridge.serve(host="127.0.0.1", port=0, role=Role.WORKER, stop=stop)
    )
    await started.wait()
    stop.set()
    await asyncio.wait_for(serving, timeout=10)
    assert bridge.closed
    assert bridge.whatsapp.is_closed


async def test_shutdown_closes_the_clients_when_serving_fails(
    settings_env: pytest.MonkeyPatch,
) -> None:
    bridge = build(load_settings())

    async def broken(stop: asyncio.Event, *, idle: float = 0.5) -> None:
        raise RuntimeError("a worker crashed")

    bridge.workers.run = broken  # type: ignore[method-assign]
    stop = asyncio.Event()
    serving = asyncio.create_task(
        bridge.serve(host="127.0.0.1", port=0, role=Role.WORKER, stop=stop)
    )
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(serving, timeout=10)
    assert bridge.whatsapp.is_closed


async def test_the_scheduler_runs_the_retention_purge(settings_env: pytest.MonkeyPatch) -> None:
    bridge = build(load_settings())
    try:
        tasks = {task.name: task for task in bridge.scheduler.tasks}
        assert {"window_scan", "retention_purge"} <= set(tasks)
        assert tasks["retention_purge"].at_start
    finally:
        await bridge.aclose()


@pytest.mark.parametrize("role", [Role.WORKER, Role.SCHEDULER])
async def test_a_worker_or_scheduler_given_a_port_serves_its_own_metrics_and_nothing_else(
    settings_env: pytest.MonkeyPatch, role: Role
) -> None:
    bridge = build(load_settings())
    port = free_port()
    stop = asyncio.Event()
    serving = asyncio.create_task(
        bridge.serve(host="127.0.0.1", port=port, role=role, stop=stop, http=True)
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health: httpx.Response | None = None
            for _ in range(200):
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert health is not None, "the process never listened on its port"
            assert health.status_code == 200
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            # The calls this process makes, which no web process can report.
            assert "# TYPE wabridge_slack_calls_total counter" in metrics.text
            assert "# TYPE wabridge_meta_calls_total counter" in metrics.text
            webhook = await client.post("/webhooks/whatsapp", content=b"{}")
            assert webhook.status_code == 404  # a web process's work
            assert (await client.get("/api/v1/conversations")).status_code == 404
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=10)
    assert bridge.closed


async def test_the_webhook_route_tells_the_rush_of_each_request_as_it_comes_is_stored_and_answered(
    settings_env: pytest.MonkeyPatch,
) -> None:
    bridge = build(load_settings())
    try:
        heard: list[str] = []

        class Heard(Rush):
            def arrived(self) -> None:
                heard.append("arrived")
                super().arrived()

            def stored(self) -> None:
                heard.append("stored")
                super().stored()

            def answered(self) -> None:
                heard.append("answered")
                super().answered()

        # One webhook in a window is a rush here: the count, not the rate, is tested.
        bridge.workers.rush = Heard(rate=10, window=0.1, clock=lambda: 0.0)
        assert not bridge.workers.rush.pouring()
        body = payloads.status("wamid.ANY", "delivered", at=T0)
        signature = hmac.new(REQUIRED["META_APP_SECRET"].encode(), body, hashlib.sha256)
        transport = httpx.ASGITransport(app=bridge.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            answer = await client.post(
                "/webhooks/whatsapp",
                content=body,
                headers={"X-Hub-Signature-256": "sha256=" + signature.hexdigest()},
            )
            refused = await client.post("/webhooks/whatsapp", content=body)  # not signed
        assert answer.status_code == 200 and refused.status_code == 401
        assert bridge.workers.rush.pouring()
        # Each request, answered or refused, is counted out as it was counted in: none is
        # left waiting to keep the loops' steps small.
        assert heard == ["arrived", "stored", "answered", "arrived", "answered"]
    finally:
        await bridge.aclose()
