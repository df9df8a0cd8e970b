"""The FastAPI app over a real database: webhooks, health, metrics and the REST API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import event, text

from bridge.ports import BusinessNumber
from bridge.usecases.api import RestApi
from bridge.usecases.numbers import NumberBook
from storage.db import schema_is_current
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeClock
from webhook_server.app import MAX_WEBHOOK_BYTES, WebDeps, create_app
from webhook_server.metrics import Metrics
from whatsapp.content import ContentRules
from whatsapp.signature import WebhookSignatures, sign
from whatsapp.webhooks import WebhookParser

SECRET = "app-secret-for-tests"
DEFAULT_NUMBER = BusinessNumber(
    phone_number_id=payloads.PHONE_NUMBER_ID,
    display_phone_number=None,
    waba_id=None,
    slack_channel="C1",
)
API_TOKEN = "rest-token-for-tests"


def _deps(uow: SqlUnitOfWorkFactory, *, api_token: str | None = API_TOKEN) -> WebDeps:
    async def ready() -> bool:
        return await schema_is_current(uow.engine)

    numbers = NumberBook(uow=uow, default=DEFAULT_NUMBER)
    signatures = WebhookSignatures(
        app_secret=SECRET,
        secrets_for=numbers.secrets_for,
        any_own_secret=numbers.any_own_secret,
        reload=numbers.reload_unless_recent,
    )
    return WebDeps(
        uow=uow,
        verify_signature=signatures.verify,
        verify_token="verify-me",
        api_token=api_token,
        api=RestApi(uow=uow, clock=FakeClock(), content=ContentRules(), templates=None),
        clock=FakeClock(),
        ready=ready,
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
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True}  # the answer the OpenAPI schema describes
    assert await _inbox(uow_factory) == [("pending", body)]


async def test_concurrent_webhooks_share_commits_and_each_is_stored_before_its_200(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    commits: list[int] = []
    stored_at_commit: list[int] = []

    def on_commit(connection: object) -> None:
        commits.append(1)

    event.listen(uow_factory.engine.sync_engine, "commit", on_commit)
    bodies = [
        payloads.messages(payloads.text(f"wamid.G{n}", f"message {n}", at=T0)) for n in range(40)
    ]

    async def post(body: bytes) -> int:
        response = await client.post(
            "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
        )
        # Answered: so already committed, whichever group it was in.
        stored_at_commit.append(sum(1 for _, b in await _inbox(uow_factory) if b == body))
        return response.status_code

    try:
        answers = await asyncio.gather(*(post(body) for body in bodies))
    finally:
        event.remove(uow_factory.engine.sync_engine, "commit", on_commit)
    assert answers == [200] * len(bodies)
    assert stored_at_commit == [1] * len(bodies)
    assert sorted(b for _, b in await _inbox(uow_factory)) == sorted(bodies)
    assert len(commits) < len(bodies)  # grouped: fewer commits than webhooks


async def test_a_group_the_database_refuses_is_503_for_each_and_the_next_is_stored(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Every request of a group whose commit failed hears 503 (Meta retries it); the
    group commit is not stuck: the next webhooks are stored."""
    refuse = {"on": True}

    def refuse_commits(connection: object) -> None:
        if refuse["on"]:
            raise RuntimeError("disk full")

    event.listen(uow_factory.engine.sync_engine, "commit", refuse_commits)
    try:
        app = create_app(_deps(uow_factory))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def post(n: int) -> int:
                body = payloads.messages(payloads.text(f"wamid.R{n}", "hi", at=T0))
                headers = {"X-Hub-Signature-256": sign(SECRET, body)}
                return (
                    await client.post("/webhooks/whatsapp", content=body, headers=headers)
                ).status_code

            assert await asyncio.gather(*(post(n) for n in range(10))) == [503] * 10
            assert await _inbox(uow_factory) == []
            refuse["on"] = False
            assert await asyncio.gather(*(post(n) for n in range(10, 15))) == [200] * 5
    finally:
        event.remove(uow_factory.engine.sync_engine, "commit", refuse_commits)
    assert len(await _inbox(uow_factory)) == 5


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


async def test_signed_garbage_is_stored_as_it_came_and_answered_200(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """The route never parses: the inbox worker makes it a dead letter (test_flows.py)."""
    body = b"\x00not json at all"
    response = await client.post(
        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    assert response.status_code == 200
    assert await _inbox(uow_factory) == [("pending", body)]


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
    assert 'wabridge_jobs{state="due"} 0.0' in metrics
    assert 'wabridge_lane_paused{lane="slack"} 0.0' in metrics
    assert "wabridge_statuses_unknown_total 0.0" in metrics


async def test_statuses_for_unknown_messages_are_counted_from_the_database(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    from bridge.usecases.statuses import UNKNOWN_STATUSES

    async with uow_factory() as uow:  # as inbox workers of any process count them
        await uow.counters.add(UNKNOWN_STATUSES, 2)
        await uow.counters.add(UNKNOWN_STATUSES)
        await uow.commit()
    metrics = (await client.get("/metrics")).text
    assert "# TYPE wabridge_statuses_unknown_total counter" in metrics
    assert "wabridge_statuses_unknown_total 3.0" in metrics


async def test_purged_rows_are_counted_from_the_database(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    from bridge.usecases.retention import COUNTER_PREFIX

    metrics = (await client.get("/metrics")).text
    assert 'wabridge_purged_total{kind="jobs"} 0.0' in metrics
    async with uow_factory() as uow:  # as the purge counts, in any scheduler process
        await uow.counters.add(COUNTER_PREFIX + "jobs", 1000)
        await uow.counters.add(COUNTER_PREFIX + "jobs", 7)
        await uow.counters.add(COUNTER_PREFIX + "slack_events", 3)
        await uow.commit()
    metrics = (await client.get("/metrics")).text
    assert "# TYPE wabridge_purged_total counter" in metrics
    assert 'wabridge_purged_total{kind="jobs"} 1007.0' in metrics
    assert 'wabridge_purged_total{kind="slack_events"} 3.0' in metrics
    assert 'wabridge_purged_total{kind="webhooks"} 0.0' in metrics


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
    from bridge.domain import InboundMessage
    from bridge.usecases.inbound import receive_inbound

    parser = WebhookParser()
    for wa_id, name, wamid in (("111", "Ann", "wamid.1"), ("222", "Bob", "wamid.2")):
        body = payloads.messages(
            payloads.text(wamid, f"hello from {name}", at=T0, wa_id=wa_id), name=name, wa_id=wa_id
        )
        async with uow_factory() as uow:
            for event in parser.parse(body):
                assert isinstance(event, InboundMessage)
                await receive_inbound(uow, event, now=T0, channel="C1")
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


async def test_readyz_says_why_work_is_paused(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    from bridge.jobs import Lane

    async with uow_factory() as uow:
        await uow.pauses.pause(
            Lane.SLACK, reason="slack:token_revoked: chat.postMessage", now=T0, probe_after=T0
        )
        await uow.commit()
    ready = await client.get("/readyz")
    # The database answers, so webhooks are still stored: ready, but degraded, and why.
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    [paused] = ready.json()["paused"]
    assert paused["lane"] == "slack" and "token_revoked" in paused["reason"]
    metrics = (await client.get("/metrics")).text
    assert 'wabridge_lane_paused{lane="slack"} 1.0' in metrics


async def test_metrics_count_failures_by_kind_and_reason(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    from datetime import timedelta

    from bridge.jobs import Lane, ShowDelivery
    from bridge.usecases.deadletters import DeadLetters

    async with uow_factory() as uow:
        conversation = await uow.conversations.get_or_create(
            phone_number_id="P1",
            display_phone_number="1555",
            contact_id="111",
            contact_name="Ann",
            slack_channel="C1",
            now=T0,
        )
        for n in range(2):
            await uow.jobs.enqueue(
                ShowDelivery(conversation_id=conversation.id, message_id=n), now=T0
            )
        await uow.inbox.store(b"garbage", received_at=T0, dead_reason="not JSON")
        claimed = await uow.jobs.claim(
            now=T0, limits=dict.fromkeys(Lane, 5), lease=timedelta(seconds=15)
        )
        for job in claimed:
            await uow.jobs.fail(
                job.id, job.lease_token, now=T0, reason="slack:message_not_found", error="gone"
            )
        await uow.commit()
    metrics = (await client.get("/metrics")).text
    assert 'wabridge_failed{kind="show_delivery",reason="slack:message_not_found"} 2.0' in metrics
    assert 'wabridge_failed{kind="webhook",reason="unparseable"} 1.0' in metrics

    letters = DeadLetters(uow=uow_factory, clock=FakeClock())
    for letter in await letters.list():
        assert await letters.replay(letter.ref)
    metrics = (await client.get("/metrics")).text
    assert "wabridge_failed{" not in metrics  # replayed: gone, not zero


async def test_slack_bodies_are_capped_before_they_are_buffered(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    from collections.abc import Mapping
    from dataclasses import replace

    seen: list[int] = []

    class Answer:
        status, body, headers = 200, "ok", {}

    async def handler(body: bytes, headers: Mapping[str, str], query: str) -> Answer:
        seen.append(len(body))
        return Answer()

    app = create_app(replace(_deps(uow_factory), slack_handler=handler))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        huge = b"x" * (MAX_WEBHOOK_BYTES + 1)
        assert (await c.post("/slack/events", content=huge)).status_code == 413

        async def chunks():  # no content-length: the cap must hold while streaming
            for _ in range(2048):
                yield b"y" * 1024

        assert (await c.post("/slack/events", content=chunks())).status_code == 413
        assert (await c.post("/slack/events", content=b"token=x")).status_code == 200
    assert seen == [7]


async def test_a_slack_request_the_bridge_cannot_take_is_503_so_that_slack_retries(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    from collections.abc import Mapping
    from dataclasses import replace

    queries: list[str] = []

    class Answer:
        status, body, headers = 200, "", {"X-Slack-No-Retry": "0"}

    async def handler(body: bytes, headers: Mapping[str, str], query: str) -> Answer:
        queries.append(query)
        if body == b"broken":
            raise RuntimeError("database is away")
        return Answer()

    app = create_app(replace(_deps(uow_factory), slack_handler=handler))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        failed = await c.post("/slack/events", content=b"broken")
        taken = await c.post("/slack/events?ssl_check=1&x=%20y", content=b"token=x")
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert failed.json() == {"detail": "temporarily unavailable, retry later"}
    assert (taken.status_code, taken.headers["x-slack-no-retry"]) == (200, "0")
    assert queries == ["", "ssl_check=1&x=%20y"]
