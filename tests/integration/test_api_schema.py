"""Schemathesis against the app's own OpenAPI document, in process (ASGI, no network): requests
generated for every operation, valid and invalid, each answer checked: never a 5xx, and always
a status, content type, headers and body that the document declares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bridge.domain import Direction, MessageStatus, MessageTemplate, Part, Placeholder, SenderType
from bridge.ports import NewMessage
from bridge.usecases.api import RestApi
from bridge.usecases.templates import Templates
from storage.db import create_engine, migrate
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import T0, FakeClock, FakeWhatsApp
from webhook_server.app import WebDeps, create_app
from webhook_server.metrics import Metrics
from whatsapp.content import ContentRules

TOKEN = "rest-token-for-schemathesis"
WABA = "WABA1"
#: Examples per operation and generation mode: enough to reach every answer, under ~30 s.
EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            # Unknown query parameters are ignored, as on most of the web: not a finding.
            "allow-extra-parameters": False,
            # The bearer token is ours to send (and ignored_auth checks its absence).
            "with-security-parameters": False,
        }
    }
)

SHIPPED = MessageTemplate(
    name="order_update",
    language="en",
    category="UTILITY",
    status="APPROVED",
    body_text="Hello {{1}}, your order has shipped.",
    placeholders=(Placeholder(part=Part.BODY, name="1", example="Ada"),),
)


async def _no_webhooks(body: bytes, header: str | None) -> bool:
    return False


async def _seed(url: str) -> None:
    """Conversation 1, its window open, with a message each way; and one template."""
    engine = create_engine(url)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        async with uow() as unit:
            conversation = await unit.conversations.get_or_create(
                phone_number_id="P1",
                display_phone_number="15550001111",
                contact_id="4915112345678",
                contact_name="Ada",
                slack_channel="C1",
                now=T0,
            )
            for direction, sender, status in (
                (Direction.INBOUND, SenderType.CONTACT, MessageStatus.RECEIVED),
                (Direction.OUTBOUND, SenderType.AGENT, MessageStatus.SENT),
            ):
                await unit.messages.add(
                    NewMessage(
                        conversation_id=conversation.id,
                        direction=direction,
                        sender_type=sender,
                        message_type="text",
                        content={"text": "hello"},
                        status=status,
                        created_at=T0,
                    )
                )
                await unit.conversations.record_message(
                    conversation.id,
                    at=T0,
                    from_contact=direction == Direction.INBOUND,
                    window_expires_at=T0 + timedelta(hours=24),
                )
            await unit.templates.replace_all(WABA, [SHIPPED], now=T0)
            await unit.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def api_schema(fresh_database_url: str) -> Iterator[Any]:
    """The app over a seeded database, its OpenAPI document loaded by schemathesis."""
    migrate(fresh_database_url)
    asyncio.run(_seed(fresh_database_url))
    # The app's engine is made here but connects only on schemathesis's own event loop, where
    # the app runs; the app's lifespan closes it there.
    engine = create_engine(fresh_database_url)
    uow = SqlUnitOfWorkFactory(engine)
    clock = FakeClock()

    async def ready() -> bool:
        return True

    templates = Templates(uow=uow, whatsapp=FakeWhatsApp(), clock=clock, waba_id=WABA)
    app = create_app(
        WebDeps(
            uow=uow,
            verify_signature=_no_webhooks,
            verify_token="verify-me",
            api_token=TOKEN,
            api=RestApi(uow=uow, clock=clock, content=ContentRules(), templates=templates),
            clock=clock,
            ready=ready,
            slack_handler=None,
            metrics=Metrics(),
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app.router.lifespan_context = lifespan
    try:
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=CONFIG)
    finally:
        schemathesis.python.asgi.shutdown_lifespans()


@pytest.mark.long
def test_every_answer_is_what_the_openapi_document_says(api_schema: Any) -> None:
    # Schemathesis's own pytest loader (from_fixture) needs a pytest older than ours, so its
    # strategies drive Hypothesis here: the document's examples, then valid and invalid
    # requests for every operation.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/conversations/{conversation_id}/messages",
    }
    for operation in operations:
        strategies = [
            *api_schema.get_strategies_from_examples(operation),
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        ]
        raw = operation.definition.raw
        if raw.get("parameters") or raw.get("requestBody"):  # else nothing can be made invalid
            strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        for strategy in strategies:

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def answers_as_documented(case: Any) -> None:
                case.call_and_validate(headers=auth, checks=CHECKS)

            answers_as_documented()
