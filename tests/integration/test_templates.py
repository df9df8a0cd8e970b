"""Templates kept in step with the account: a full sync over Meta's pages, then webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.usecases.templates import LookupOutcome, Templates
from sandbox.meta_sim import MetaSimulator
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from tests.integration.world import World
from whatsapp.client import WhatsAppClient

TOKEN = "EAAG-templates-test-token"


@pytest.fixture(scope="module")
def meta() -> Iterator[MetaSimulator]:
    with MetaSimulator(access_token=TOKEN, app_secret="s") as sim:
        yield sim


def _template(n: int, *, status: str = "APPROVED", language: str = "en") -> dict[str, Any]:
    return {
        "name": f"template_{n:02d}",
        "language": language,
        "status": status,
        "category": "UTILITY" if n % 2 else "MARKETING",
        "parameter_format": "POSITIONAL",
        "id": f"9{n:05d}",
        "components": [
            {
                "type": "BODY",
                "text": f"Message {n} for {{{{1}}}}",
                "example": {"body_text": [["Ada"]]},
            }
        ],
    }


async def _sync(meta: MetaSimulator, uow: SqlUnitOfWorkFactory) -> Templates:
    async with WhatsAppClient(
        base_url=meta.url, version=meta.version, access_token=TOKEN
    ) as client:
        templates = Templates(uow=uow, whatsapp=client, clock=FakeClock(), waba_id=meta.waba_id)
        await templates.sync()
    return templates


async def test_a_sync_follows_every_page_and_keeps_exactly_what_meta_lists(
    meta: MetaSimulator, uow_factory: SqlUnitOfWorkFactory
) -> None:
    meta.set_templates([_template(n) for n in range(60)] + [_template(60, status="PAUSED")])
    templates = await _sync(meta, uow_factory)
    stored = await templates.all()
    assert len(stored) == 61  # three pages of 25
    assert len(meta.calls("message_templates")) == 3
    assert len(await templates.usable()) == 60  # the paused one is never offered
    [found] = [t for t in stored if t.name == "template_07"]
    assert found.placeholders[0].example == "Ada" and found.template_id == "900007"

    meta.set_templates([_template(n) for n in range(3)])  # deleted at Meta
    await _sync(meta, uow_factory)
    assert [t.name for t in await templates.all()] == ["template_00", "template_01", "template_02"]


async def test_usable_templates_are_filtered_and_grouped_by_language(
    meta: MetaSimulator, uow_factory: SqlUnitOfWorkFactory
) -> None:
    meta.set_templates(
        [_template(1, language="en"), _template(1, language="de"), _template(2, language="de")]
    )
    templates = await _sync(meta, uow_factory)
    assert [(t.language, t.name) for t in await templates.usable()] == [
        ("de", "template_01"),
        ("de", "template_02"),
        ("en", "template_01"),
    ]
    assert [t.name for t in await templates.usable("message 2")] == ["template_02"]
    ambiguous = await templates.find("template_01")
    assert ambiguous.outcome == LookupOutcome.WHICH_LANGUAGE
    assert {t.language for t in ambiguous.candidates} == {"en", "de"}
    assert (await templates.find("template_01", "de")).outcome == LookupOutcome.FOUND
    assert (await templates.find("nope")).outcome == LookupOutcome.UNKNOWN


async def test_template_webhooks_pause_and_rate_a_stored_template(
    meta: MetaSimulator, uow_factory: SqlUnitOfWorkFactory
) -> None:
    meta.set_templates([_template(1)])
    templates = await _sync(meta, uow_factory)
    world = World.build(uow_factory)

    def change(field: str, value: dict[str, Any]) -> bytes:
        entry = {"id": meta.waba_id, "time": 1, "changes": [{"field": field, "value": value}]}
        return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()

    ids = {
        "message_template_id": 900001,
        "message_template_name": "template_01",
        "message_template_language": "en",
    }
    await world.webhook(change("message_template_status_update", {**ids, "event": "PAUSED"}))
    await world.webhook(
        change("message_template_quality_update", {**ids, "new_quality_score": "YELLOW"})
    )
    await world.drain()
    [stored] = await templates.all()
    assert (stored.status, stored.quality, stored.usable) == ("PAUSED", "YELLOW", False)
    assert (await templates.find("template_01")).outcome == LookupOutcome.NOT_USABLE

    await world.webhook(change("message_template_status_update", {**ids, "event": "APPROVED"}))
    await world.drain()
    assert [t.name for t in await templates.usable()] == ["template_01"]
    await _sync(meta, uow_factory)  # a later sync keeps the quality a webhook reported
    [again] = await templates.all()
    assert again.quality == "YELLOW"
