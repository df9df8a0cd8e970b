"""Several business numbers: each number's customers in its own channel, replies from the
number the customer wrote to, and a number nobody added kept and reported, never bridged."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from bridge.domain import AccountEventKind, DeliveryProblem, FailureKind
from bridge.errors import DeliveryError
from bridge.ports import BusinessNumber
from bridge.usecases.numbers import UNKNOWN_NUMBER, NumberBook, NumberError, Numbers
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeClock
from tests.integration.world import CHANNEL, World
from webhook_server.app import create_app
from whatsapp.signature import sign

SALES = BusinessNumber(
    phone_number_id="2000000002",
    display_phone_number="+49 30 1234567",
    waba_id="3000000003",
    slack_channel="C0SALES01",
)
SALES_NUMBER = ("2000000002", "49301234567")
DEFAULT = BusinessNumber(
    phone_number_id=payloads.PHONE_NUMBER_ID,
    display_phone_number=None,
    waba_id=None,
    slack_channel=CHANNEL,
)


def _numbers(world: World) -> Numbers:
    return Numbers(uow=world.uow, clock=world.clock, default=world.numbers.default)


async def _threads_in(world: World, channel: str) -> list[str]:
    return [p.text for p in world.chat.parents() if p.channel == channel]


async def test_each_number_has_its_channel_and_replies_leave_from_the_number_written_to(
    world: World,
) -> None:
    await _numbers(world).add(SALES)
    await world.webhook(
        payloads.messages(payloads.text("wamid.S1", "Price?", at=T0), number=SALES_NUMBER)
    )
    await world.webhook(payloads.messages(payloads.text("wamid.D1", "Late parcel", at=T0)))
    await world.drain()
    [sales_thread] = [p for p in world.chat.parents() if p.channel == "C0SALES01"]
    [support_thread] = [p for p in world.chat.parents() if p.channel == CHANNEL]
    assert "Price?" in world.chat.thread(sales_thread.ts)
    assert "Late parcel" in world.chat.thread(support_thread.ts)

    await world.queue_reply(sales_thread.ts, "It is 20 EUR", channel="C0SALES01")
    await world.queue_reply(support_thread.ts, "On its way")
    await world.drain()
    sent = {m["text"]: m["phone_number_id"] for m in world.whatsapp.sent}
    assert sent == {"It is 20 EUR": "2000000002", "On its way": payloads.PHONE_NUMBER_ID}


async def test_a_number_nobody_added_is_kept_reported_once_and_bridged_once_added(
    world: World,
) -> None:
    await world.webhook(
        payloads.messages(payloads.text("wamid.S1", "Price?", at=T0), number=SALES_NUMBER)
    )
    await world.webhook(
        payloads.messages(payloads.text("wamid.S2", "Hello?", at=T0), number=SALES_NUMBER)
    )
    await world.drain()
    # Never bridged as if it were the default number's.
    assert world.chat.posts == []
    states = await world.inbox_states()
    assert states == [("failed", UNKNOWN_NUMBER), ("failed", UNKNOWN_NUMBER)]
    [notice] = world.chat.operator_notices  # told once, not once per webhook
    assert notice.kind == AccountEventKind.UNKNOWN_NUMBER
    assert (notice.phone_number_id, notice.number) == ("2000000002", "49301234567")
    assert world.chat.operator_posts[0].channel == CHANNEL

    added = await _numbers(world).add(SALES)
    assert added.replayed == 2
    await world.drain()
    [thread] = [p for p in world.chat.parents() if p.channel == "C0SALES01"]
    assert world.chat.thread(thread.ts)[-2:] == ["Price?", "Hello?"]
    assert await world.inbox_states() == [("done", None), ("done", None)]


async def test_a_removed_number_is_kept_and_reported_again(world: World) -> None:
    numbers = _numbers(world)
    await numbers.add(SALES)
    await numbers.remove(SALES.phone_number_id)
    await world.numbers.reload()
    await world.webhook(
        payloads.messages(payloads.text("wamid.S1", "Price?", at=T0), number=SALES_NUMBER)
    )
    await world.drain()
    assert world.chat.posts == []
    assert await world.inbox_states() == [("failed", UNKNOWN_NUMBER)]
    assert [n.phone_number_id for n in await numbers.list()] == [payloads.PHONE_NUMBER_ID]


async def test_a_removed_number_sends_nothing_with_the_environments_token(
    world: World,
) -> None:
    """Its conversations stay, so an agent may still answer in one: the send must fail for
    that conversation alone, not go out with the environment's token, whose refusal (the
    number belongs to another app) would pause every number's sends."""
    numbers = _numbers(world)
    await numbers.add(SALES)
    book = world.numbers
    assert await book.token_for(SALES.phone_number_id) is None  # the environment's
    await numbers.remove(SALES.phone_number_id)
    await book.reload()
    with pytest.raises(DeliveryError) as refused:
        await book.token_for(SALES.phone_number_id)
    assert refused.value.kind == FailureKind.PERMANENT
    assert refused.value.problem == DeliveryProblem.NUMBER_NOT_SERVED
    assert await book.token_for(payloads.PHONE_NUMBER_ID) is None  # the default still sends


async def test_numbers_are_checked_before_anything_is_stored(world: World) -> None:
    numbers = _numbers(world)
    default = world.numbers.default.phone_number_id
    bad = {
        "the default number": BusinessNumber(
            phone_number_id=default,
            display_phone_number="15550001111",
            waba_id="3",
            slack_channel="C0X1234567",
        ),
        "a channel name": BusinessNumber(
            phone_number_id="2000000002",
            display_phone_number="4930123",
            waba_id="300000",
            slack_channel="#sales",
        ),
        "letters in the number": BusinessNumber(
            phone_number_id="2000000002",
            display_phone_number="call us",
            waba_id="300000",
            slack_channel="C0SALES01",
        ),
    }
    for what, number in bad.items():
        with pytest.raises(NumberError):
            await numbers.add(number)
        assert [n.default for n in await numbers.list()] == [True], what
    with pytest.raises(NumberError, match="no added number"):
        await numbers.remove("2000000002")


async def test_adding_again_changes_the_number_and_keeps_one(world: World) -> None:
    numbers = _numbers(world)
    first = await numbers.add(SALES)
    again = await numbers.add(
        BusinessNumber(
            phone_number_id=SALES.phone_number_id,
            display_phone_number=SALES.display_phone_number,
            waba_id=SALES.waba_id,
            slack_channel="C0SALES02",
            access_token="own-token",
        )
    )
    assert (first.outcome, again.outcome) == ("added", "updated")
    [_, sales] = await numbers.list()
    assert (sales.slack_channel, sales.access_token, sales.display_phone_number) == (
        "C0SALES02",
        "own-token",
        "49301234567",
    )
    assert "own-token" not in repr(sales)
    # Changed again without its credentials (its channel, say): it keeps its own.
    await numbers.add(dataclasses.replace(SALES, slack_channel="C0SALES03"))
    [_, sales] = await numbers.list()
    assert (sales.slack_channel, sales.access_token) == ("C0SALES03", "own-token")


# --- webhooks signed by another Meta app -----------------------------------------------------


async def test_a_number_with_its_own_app_secret_is_checked_with_it(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    from tests.integration.test_web import SECRET, _deps

    clock = FakeClock()
    # The default number (the payloads') is the web deps'; the sales number brings its own app.
    numbers = Numbers(
        uow=uow_factory,
        clock=clock,
        default=BusinessNumber(
            phone_number_id=payloads.PHONE_NUMBER_ID,
            display_phone_number=None,
            waba_id=None,
            slack_channel="C1",
        ),
    )
    await numbers.add(
        BusinessNumber(
            phone_number_id="2000000002",
            display_phone_number="49301234567",
            waba_id="3000000003",
            slack_channel="C0SALES01",
            app_secret="sales-app-secret",
        )
    )
    app = create_app(_deps(uow_factory))
    sales = payloads.messages(payloads.text("wamid.S1", "Price?", at=T0), number=SALES_NUMBER)
    default = payloads.messages(payloads.text("wamid.D1", "Hi", at=T0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:

        async def post(body: bytes, secret: str) -> int:
            headers = {"X-Hub-Signature-256": sign(secret, body)}
            return (
                await client.post("/webhooks/whatsapp", content=body, headers=headers)
            ).status_code

        assert await post(sales, "sales-app-secret") == 200
        assert await post(sales, SECRET) == 401  # the environment's app does not sign for it
        assert await post(default, SECRET) == 200
        assert await post(default, "sales-app-secret") == 401


async def test_requests_nobody_vouched_for_read_the_numbers_at_most_once_a_second(
    world: World,
) -> None:
    book = world.numbers
    assert await book.reload_unless_recent()
    assert [await book.reload_unless_recent() for _ in range(50)] == [False] * 50


async def test_a_template_leaves_from_the_number_of_the_conversation_or_channel(
    world: World,
) -> None:
    from bridge.usecases.templates import TemplateMessages, Templates
    from tests.integration.test_templates import ORDER

    await _numbers(world).add(SALES)
    await world.webhook(
        payloads.messages(payloads.text("wamid.S1", "Price?", at=T0), number=SALES_NUMBER)
    )
    await world.drain()
    world.whatsapp.account_templates = [ORDER]
    templates = Templates(uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id="W")
    await templates.sync()
    messages = TemplateMessages(
        uow=world.uow,
        whatsapp=world.whatsapp,
        clock=world.clock,
        templates=templates,
        phone_number_id=payloads.PHONE_NUMBER_ID,
        channel=CHANNEL,
        numbers=world.numbers.numbers,
    )
    send = {"name": "order_update", "language": None, "author": "U1", "params": ["Ada", "#7"]}
    # From the modal in the customer's thread: the conversation's number.
    await messages.send(to="4915112345678", phone_number_id="2000000002", **send)  # type: ignore[arg-type]
    # /wa template typed in the sales channel: the sales number.
    await messages.send(to="4915199999999", channel="C0SALES01", **send)  # type: ignore[arg-type]
    # Anywhere else: the default number.
    await messages.send(to="4915188888888", channel="C0ELSEWHERE", **send)  # type: ignore[arg-type]
    await world.drain()
    pairs = zip(world.whatsapp.sent, world.whatsapp.template_senders, strict=True)
    senders = {m["to"]: n for m, n in pairs}
    assert senders == {
        "4915112345678": "2000000002",
        "4915199999999": "2000000002",
        "4915188888888": payloads.PHONE_NUMBER_ID,
    }
    # The one conversation with Ada on the sales number holds her template: no second thread.
    sales_threads = [p for p in world.chat.parents() if p.channel == "C0SALES01"]
    assert len(sales_threads) == 2  # Ada's, and the new contact's


async def test_wa_status_lists_the_numbers_served_with_their_channels(world: World) -> None:
    from bridge.usecases.status import StatusReports

    numbers = _numbers(world)
    await numbers.add(SALES)
    await world.webhook(payloads.messages(payloads.text("wamid.D1", "Hi", at=T0)))
    await world.drain()
    status = StatusReports(
        uow=world.uow,
        clock=world.clock,
        phone_number_id=payloads.PHONE_NUMBER_ID,
        channel=CHANNEL,
        numbers=world.numbers.numbers,
    )
    await world.numbers.reload()
    assert (await status.report()).numbers == (
        (payloads.PHONE_NUMBER_ID, payloads.DISPLAY_NUMBER, CHANNEL),
        ("2000000002", "49301234567", "C0SALES01"),
    )
    await numbers.remove("2000000002")
    await world.numbers.reload()
    assert [n[0] for n in (await status.report()).numbers] == [payloads.PHONE_NUMBER_ID]


async def test_reading_the_numbers_inside_and_outside_a_transaction_at_once_never_deadlocks(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    # Found by the fault run (bench/faults.py): after a restart, a webhook's signature check
    # read the numbers on its own while the inbox worker read them inside its transaction.
    # On SQLite a process-wide lock serialises transactions, so the book's lock taken around
    # its own read waited for the worker's transaction, which waited for the book's lock:
    # the process never answered again.
    book = NumberBook(uow=uow_factory, default=DEFAULT)
    async with uow_factory() as uow:
        outside = asyncio.create_task(book.reload())  # waits for this transaction on SQLite
        for _ in range(5):
            await asyncio.sleep(0)
        number = await asyncio.wait_for(book.lookup(SALES.phone_number_id, uow=uow), 10)
        assert number is None  # nobody added it
    await asyncio.wait_for(outside, 10)
