"""Templates kept in step with the account: a full sync over Meta's pages, then webhooks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bridge.domain import MessageTemplate, Part, Placeholder
from bridge.errors import DeliveryError
from bridge.ports import BusinessNumber
from bridge.usecases.templates import LookupOutcome, SendOutcome, TemplateMessages, Templates
from sandbox.meta_sim import MetaSimulator
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeClock, meta_error
from tests.integration.world import CHANNEL, World
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


async def test_a_language_without_its_region_finds_the_template_in_that_language(
    meta: MetaSimulator, uow_factory: SqlUnitOfWorkFactory
) -> None:
    meta.set_templates(
        [
            _template(1, language="en_US"),
            _template(2, language="en_US"),
            _template(2, language="en_GB"),
            _template(3, language="en"),
            _template(3, language="en_US"),
        ]
    )
    templates = await _sync(meta, uow_factory)
    found = await templates.find("template_01", "en")  # as agents type it
    assert found.outcome == LookupOutcome.FOUND and found.template is not None
    assert found.template.language == "en_US"
    assert (await templates.find("template_01", "en-us")).outcome == LookupOutcome.FOUND
    assert (await templates.find("template_01", "en_GB")).outcome == LookupOutcome.UNKNOWN
    assert (await templates.find("template_01", "de")).outcome == LookupOutcome.UNKNOWN
    two = await templates.find("template_02", "en")
    assert two.outcome == LookupOutcome.WHICH_LANGUAGE
    assert {t.language for t in two.candidates} == {"en_US", "en_GB"}
    exact = await templates.find("template_03", "en")  # a version in exactly that code wins
    assert exact.template is not None and exact.template.language == "en"


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


def _recorded(shared_dir: Path, name: str) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads(
        (shared_dir / "meta" / "samples" / "pywa" / f"{name}.json").read_text()
    )
    return recorded


async def test_every_recorded_template_webhook_updates_the_stored_template(
    uow_factory: SqlUnitOfWorkFactory, shared_dir: Path
) -> None:
    world = World.build(uow_factory)
    main, other = "102290129340398", "57438975935"

    def stored(name: str, language: str, **fields: Any) -> MessageTemplate:
        return MessageTemplate(
            name=name, language=language, category="UTILITY", status="PENDING", **fields
        )

    async with world.uow() as uow:
        await uow.templates.replace_all(
            main,
            [
                stored(
                    "order_confirmation", "en_US", body_text="Old", template_id="1689556908129832"
                ),
                stored("abandoned_cart", "en"),
                stored("welcome_template", "en_US", quality="GREEN"),
            ],
            now=T0,
        )
        await uow.templates.replace_all(
            other,
            [
                stored(
                    "my_message_template",
                    "he",
                    body_text="Shalom {{1}}",
                    placeholders=(Placeholder(part=Part.BODY, name="1", example="Dana"),),
                )
            ],
            now=T0,
        )
        await uow.commit()
    components = _recorded(shared_dir, "template_components_update")["element"]
    bodies = [
        *(_recorded(shared_dir, "template_status_update").values()),
        *(_recorded(shared_dir, "template_quality_update").values()),
        *(_recorded(shared_dir, "template_category_update").values()),
        components,
        components["all"],
        {  # a template the bridge has not synced yet: left to the next sync
            "entry": [
                {
                    "id": main,
                    "changes": [
                        {
                            "field": "message_template_status_update",
                            "value": {
                                "event": "APPROVED",
                                "message_template_name": "ghost",
                                "message_template_language": "en",
                            },
                        }
                    ],
                }
            ]
        },
    ]
    for body in bodies:
        await world.webhook(json.dumps(body).encode())
    await world.drain()

    def templates(waba: str) -> Templates:
        return Templates(uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id=waba)

    by_name = {t.name: t for t in await templates(main).all()}
    order = by_name["order_confirmation"]
    assert (order.status, order.category, order.usable) == ("APPROVED", "UTILITY", True)
    assert order.header_text == "Your order is confirmed!" and order.header_kind == "TEXT"
    assert order.body_text.startswith("Thank you for your order, {{1}}!")
    assert [p.key for p in order.placeholders] == ["body.1", "body.2"]
    assert order.footer_text == "Lucky Shrub: the Succulent Specialists!"
    assert order.buttons == ("Phone support", "Email support")
    rejected = by_name["abandoned_cart"]
    assert (rejected.status, rejected.category, rejected.usable) == ("REJECTED", "MARKETING", False)
    welcome = by_name["welcome_template"]
    assert (welcome.quality, welcome.status) == ("YELLOW", "PENDING")
    [hebrew] = await templates(other).all()
    assert (hebrew.category, hebrew.body_text) == ("MARKETING", "Hi {{1}}! Welcome to our service.")
    assert [(p.key, p.example) for p in hebrew.placeholders] == [("body.1", "Dana")]
    assert "ghost" not in by_name  # a webhook never creates a template


ORDER = MessageTemplate(
    name="order_update",
    language="en",
    category="UTILITY",
    status="APPROVED",
    body_text="Hi {{1}}, your order {{2}} has shipped.",
    placeholders=(
        Placeholder(part=Part.BODY, name="1", example="Maria"),
        Placeholder(part=Part.BODY, name="2", example="#1042"),
    ),
)
PAUSED = MessageTemplate(name="promo", language="en", category="MARKETING", status="PAUSED")


async def _with_templates(world: World) -> TemplateMessages:
    world.whatsapp.account_templates = [ORDER, PAUSED]
    templates = Templates(uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id="W")
    await templates.sync()
    return TemplateMessages(
        uow=world.uow,
        whatsapp=world.whatsapp,
        clock=world.clock,
        templates=templates,
        phone_number_id="1000000001",
        channel=CHANNEL,
    )


async def test_a_template_to_a_new_contact_opens_its_thread_and_shows_its_delivery(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    world = World.build(uow_factory)
    messages = await _with_templates(world)
    result = await messages.send(
        to="4915112345678", name="order_update", language=None, author="U1", params=["Ada", "#7"]
    )
    assert result.outcome == SendOutcome.QUEUED
    await world.drain()
    assert world.whatsapp.sent == [
        {
            "to": "4915112345678",
            "template": "order_update",
            "values": {"body.1": "Ada", "body.2": "#7"},
        }
    ]
    [parent] = world.chat.parents()
    assert world.chat.thread(parent.ts) == ["agent:order_update:Hi Ada, your order #7 has shipped."]
    post = next(p for p in world.chat.posts if p.thread_ts == parent.ts)
    assert world.chat.reactions[post.ts] == ["sent"]
    message = await world.message(result.message_id or 0)
    assert message.slack_ts == post.ts and message.message_type == "template"


async def test_a_template_goes_out_when_the_window_is_closed(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    world = World.build(uow_factory)
    messages = await _with_templates(world)
    await world.webhook(payloads.messages(payloads.text("wamid.1", "Hi", at=world.clock.now())))
    await world.drain()
    world.clock.advance(hours=30)
    assert (await world.queue_reply(await world.thread(), "Too late")).outcome == "window_closed"
    result = await messages.send(
        to="4915112345678", name="order_update", language="en", author="U1", params=["A", "B"]
    )
    await world.drain()
    assert result.outcome == SendOutcome.QUEUED
    assert [m.get("template") for m in world.whatsapp.sent] == ["order_update"]
    assert len(world.chat.parents()) == 1  # the contact's thread, reused


@pytest.mark.parametrize(
    ("name", "params", "outcome"),
    [
        ("nope", [], SendOutcome.UNKNOWN_TEMPLATE),
        ("promo", [], SendOutcome.NOT_USABLE),
        ("order_update", ["only one"], SendOutcome.WRONG_VALUES),
        ("order_update", ["Ada", "  "], SendOutcome.WRONG_VALUES),
    ],
)
async def test_a_template_that_cannot_go_out_sends_nothing(
    uow_factory: SqlUnitOfWorkFactory, name: str, params: list[str], outcome: SendOutcome
) -> None:
    world = World.build(uow_factory)
    messages = await _with_templates(world)
    result = await messages.send(
        to="4915112345678", name=name, language=None, author="U1", params=params
    )
    await world.drain()
    assert result.outcome == outcome
    assert world.whatsapp.calls == 0 and world.chat.posts == []
    assert await world.job_states() == []


async def test_a_template_meta_refuses_is_explained_in_the_thread(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    world = World.build(uow_factory)
    messages = await _with_templates(world)
    world.whatsapp.fail_next.append(meta_error(132001, "Template name does not exist"))
    await messages.send(
        to="4915112345678", name="order_update", language=None, author="U1", params=["A", "B"]
    )
    await world.drain()
    [parent] = world.chat.parents()
    thread = world.chat.thread(parent.ts)
    assert thread[-1] == "notice:delivery_failed:132001"
    post = next(p for p in world.chat.posts if p.thread_ts == parent.ts)
    assert world.chat.reactions[post.ts] == ["failed"]


# --- several accounts: a number added with an account of its own -----------------------------

SALES_WABA = "3000000003"
SALES = BusinessNumber(
    phone_number_id="2000000077",
    display_phone_number="49301234567",
    waba_id=SALES_WABA,
    slack_channel="C0SALES01",
)


class _Accounts:
    """Meta's template lists by account, and whose token read each."""

    def __init__(self, lists: dict[str, list[MessageTemplate]]) -> None:
        self.lists = lists
        self.read: list[tuple[str, str | None]] = []

    async def templates(
        self, waba_id: str, *, phone_number_id: str | None = None
    ) -> list[MessageTemplate]:
        self.read.append((waba_id, phone_number_id))
        if waba_id not in self.lists:
            raise meta_error(100, "Unsupported get request")
        return self.lists[waba_id]


def _approved(name: str, language: str) -> MessageTemplate:
    return MessageTemplate(
        name=name, language=language, category="UTILITY", status="APPROVED", body_text="Hi"
    )


async def test_each_number_sends_the_templates_of_its_own_account(world: World) -> None:
    default = dataclasses.replace(world.numbers.default, waba_id="2000000002")
    assert default.waba_id is not None

    async def numbers() -> list[BusinessNumber]:
        return [default, SALES]

    meta = _Accounts(
        {
            default.waba_id: [_approved("hello_world", "en_US")],
            SALES_WABA: [_approved("angebot", "de")],
        }
    )
    templates = Templates(
        uow=world.uow,
        whatsapp=meta,  # type: ignore[arg-type]
        clock=world.clock,
        waba_id=default.waba_id,
        numbers=numbers,
    )
    result = await templates.sync()
    assert (result.total, result.usable) == (2, 2)
    # Each account read with a token that may read it: the sales number's for its account.
    assert meta.read == [(default.waba_id, None), (SALES_WABA, SALES.phone_number_id)]

    assert await templates.account(phone_number_id=SALES.phone_number_id) == SALES_WABA
    assert await templates.account(channel="C0SALES01") == SALES_WABA
    assert await templates.account(channel=CHANNEL) == default.waba_id
    assert await templates.suggest("4915112345678", SALES.phone_number_id) == ("angebot:de",)
    assert await templates.suggest("4915112345678") == ("hello_world:en_US",)

    sending = TemplateMessages(
        uow=world.uow,
        whatsapp=world.whatsapp,
        clock=world.clock,
        templates=templates,
        phone_number_id=default.phone_number_id,
        channel=CHANNEL,
        numbers=numbers,
    )
    other = await sending.send(
        to="4915112345678", name="hello_world", language=None, author="U1", channel="C0SALES01"
    )
    assert other.outcome == SendOutcome.UNKNOWN_TEMPLATE  # the default account's, not its own
    own = await sending.send(
        to="4915112345678", name="angebot", language=None, author="U1", channel="C0SALES01"
    )
    assert own.outcome == SendOutcome.QUEUED
    await world.drain()
    assert [s["template"] for s in world.whatsapp.sent] == ["angebot"]
    assert world.whatsapp.template_senders == [SALES.phone_number_id]


async def test_a_warning_on_a_number_of_another_account_suggests_that_accounts(
    world: World,
) -> None:
    """The window scan ranks the default account's templates for many windows at once; a
    warning in a conversation whose number has an account of its own is given that
    account's as it is posted."""
    from bridge.domain import Notice, NoticeKind
    from bridge.usecases.notices import queue_notice
    from bridge.usecases.numbers import Numbers

    await Numbers(uow=world.uow, clock=world.clock, default=world.numbers.default).add(SALES)
    await world.numbers.reload()
    default_waba = "2000000002"
    meta = _Accounts(
        {
            default_waba: [_approved("hello_world", "en_US")],
            SALES_WABA: [_approved("angebot", "de")],
        }
    )
    templates = Templates(
        uow=world.uow,
        whatsapp=meta,  # type: ignore[arg-type]
        clock=world.clock,
        waba_id=default_waba,
        numbers=world.numbers.numbers,
    )
    await templates.sync()
    workers = world.other_workers(templates=templates)
    sales_number = (SALES.phone_number_id, SALES.display_phone_number or "")
    await world.webhook(
        payloads.messages(payloads.text("wamid.S1", "Preis?", at=T0), number=sales_number)
    )
    await world.webhook(payloads.messages(payloads.text("wamid.D1", "Price?", at=T0)))
    await workers.inbox.run_once()
    while await workers.jobs.run_once():
        pass
    async with world.uow.engine.connect() as connection:
        ids = list((await connection.execute(text("SELECT id FROM conversations"))).scalars())
    assert len(ids) == 2
    async with world.uow() as uow:
        for conversation_id in ids:  # as the scan queues them: the default account's
            warning = Notice(
                kind=NoticeKind.WINDOW_WARNING,
                window_expires_at=T0,
                suggestions=("hello_world:en_US",),
            )
            await queue_notice(uow, conversation_id, warning, now=world.clock.now())
        await uow.commit()
    while await workers.jobs.run_once():
        pass
    shown = [n.suggestions for n in world.chat.notices if n.kind == NoticeKind.WINDOW_WARNING]
    assert sorted(shown) == [("angebot:de",), ("hello_world:en_US",)]


async def test_an_account_meta_refuses_leaves_the_others_synced(world: World) -> None:
    default = dataclasses.replace(world.numbers.default, waba_id="2000000002")

    async def numbers() -> list[BusinessNumber]:
        return [SALES, default]

    meta = _Accounts({"2000000002": [_approved("hello_world", "en_US")]})
    templates = Templates(
        uow=world.uow,
        whatsapp=meta,  # type: ignore[arg-type]
        clock=world.clock,
        waba_id="2000000002",
        numbers=numbers,
    )
    with pytest.raises(DeliveryError):  # told, once the other accounts are synced
        await templates.sync()
    assert [t.name for t in await templates.usable()] == ["hello_world"]
