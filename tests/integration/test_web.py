"""The FastAPI app over a real database: webhooks, health, metrics and the REST API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from storage.db import schema_is_current
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeClock
from webhook_server.app import MAX_WEBHOOK_BYTES, WebDeps, create_app
from webhook_server.metrics import Metrics
from whatsapp.signature import sign, verify_signature
from whatsapp.webhooks import WebhookParser

SECRET = "app-secret-for-tests"
API_TOKEN = "rest-token-for-tests"


def _deps(uow: SqlUnitOfWorkFactory, *, api_token: str | None = API_TOKEN) -> WebDeps:
    async def ready() -> bool:
        return await schema_is_current(uow.engine)

    return WebDeps(
        uow=uow,
        parser=WebhookParser(),
        verify_signature=lambda body, header: verify_signature(SECRET, body, header),
        verify_token="verify-me",
        api_token=api_token,
        clock=FakeClock(),
        ready=ready,
        on_webhook_stored=lambda: None,
        slack_handler=None,
        metrics=Metrics(),
    )


@pytest.fixture
async def client(uow_factory: SqlUnitOfWorkFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_deps(uow_factory))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _inbox(uow: SqlUnitOfWorkFactory) -> list[tuple[str, bytes]]:
    async with uow.engine.connect() as connection:
        rows = await connection.execute(text("SELECT state, body FROM webhook_inbox ORDER BY id"))
        return [(r[0], bytes(r[1])) for r in rows]


async def test_handshake_echoes_the_challenge(client: httpx.AsyncClient) -> None:
    ok = await client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"},
    )
    assert ok.status_code == 200 and ok.text == "42"
    assert ok.headers["content-type"].startswith("text/plain")
    bad = await client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"},
    )
    assert bad.status_code == 403


async def test_signed_webhook_is_stored_before_200(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    body = payloads.messages(payloads.text("wamid.A", "hi", at=T0))
    response = await client.post(
        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    assert response.status_code == 200
    assert await _inbox(uow_factory) == [("pending", body)]


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
async def test_bad_signature_is_401_and_stores_nothing(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory, signature: str | None
) -> None:
    body = payloads.messages(payloads.text("wamid.A", "hi", at=T0))
    headers = {"X-Hub-Signature-256": signature} if signature else {}
    response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 401
    assert await _inbox(uow_factory) == []


async def test_oversized_body_is_413(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    body = b"{" + b" " * MAX_WEBHOOK_BYTES + b"}"
    response = await client.post(
        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    assert response.status_code == 413
    assert await _inbox(uow_factory) == []


async def test_signed_garbage_is_kept_as_dead_letter_and_answered_200(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    body = b"\x00not json at all"
    response = await client.post(
        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    assert response.status_code == 200
    assert await _inbox(uow_factory) == [("dead", body)]


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    body = payloads.messages(payloads.text("wamid.A", "hi", at=T0))
    await client.post(
        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    await client.post("/webhooks/whatsapp", content=body)
    metrics = (await client.get("/metrics")).text
    assert "wabridge_webhooks_received_total 1.0" in metrics
    assert 'wabridge_webhooks_rejected_total{reason="signature"} 1.0' in metrics
    assert "wabridge_inbox_depth 1.0" in metrics
    assert "wabridge_outbox_depth 0.0" in metrics


async def test_readyz_is_503_when_schema_is_behind(fresh_database_url: str) -> None:
    from storage.db import create_engine

    engine = create_engine(fresh_database_url)  # never migrated
    try:
        app = create_app(_deps(SqlUnitOfWorkFactory(engine)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/readyz")).status_code == 503
    finally:
        await engine.dispose()


async def test_readyz_is_503_when_database_does_not_answer() -> None:
    from sandbox.server import free_port
    from storage.db import create_engine

    # Nothing listens there. (A SQLite file in a missing folder would do too, but aiosqlite
    # then leaves a thread behind that outlives the test's event loop.)
    engine = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    try:
        app = create_app(_deps(SqlUnitOfWorkFactory(engine)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/readyz")).status_code == 503
    finally:
        await engine.dispose()


async def test_rest_api_needs_the_bearer_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/conversations")).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert (await client.get("/api/v1/conversations", headers=wrong)).status_code == 401


async def test_rest_api_is_closed_when_no_token_is_configured(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    app = create_app(_deps(uow_factory, api_token=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for header in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
            assert (await c.get("/api/v1/conversations", headers=header)).status_code == 401


async def test_rest_api_lists_conversations_and_messages(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    from bridge.relay import Relay
    from tests.fakes import FakeWhatsApp

    relay = Relay(uow=uow_factory, whatsapp=FakeWhatsApp(), clock=FakeClock(), slack_channel="C1")
    parser = WebhookParser()
    for wa_id, name, wamid in (("111", "Ann", "wamid.1"), ("222", "Bob", "wamid.2")):
        body = payloads.messages(
            payloads.text(wamid, f"hello from {name}", at=T0, wa_id=wa_id), name=name, wa_id=wa_id
        )
        async with uow_factory() as uow:
            for event in parser.parse(body):
                await relay.receive_inbound(uow, event)  # type: ignore[arg-type]
            await uow.commit()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    conversations = (await client.get("/api/v1/conversations", headers=auth)).json()
    assert {c["contact"]["name"] for c in conversations} == {"Ann", "Bob"}
    first = conversations[0]
    assert set(first) == {
        "id",
        "contact",
        "slack_channel",
        "slack_thread_ts",
        "window_expires_at",
        "last_message_at",
        "total_messages",
    }
    assert first["window_expires_at"] == "2026-11-28T12:00:00Z"
    assert first["total_messages"] == 1
    messages = (
        await client.get(f"/api/v1/conversations/{first['id']}/messages", headers=auth)
    ).json()
    assert len(messages) == 1
    message = messages[0]
    assert message["direction"] == "inbound" and message["sender_type"] == "contact"
    assert message["status"] == "received" and message["content"]["text"].startswith("hello")
    assert message["whatsapp_message_id"] in {"wamid.1", "wamid.2"}
    missing = await client.get("/api/v1/conversations/99999/messages", headers=auth)
    assert missing.status_code == 404
    assert json.loads(missing.text)["detail"] == "conversation not found"
