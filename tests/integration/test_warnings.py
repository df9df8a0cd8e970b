"""Windows about to close: one warning per mark per window, the parent kept current."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from bridge.domain import FailureKind, MessageTemplate
from bridge.errors import ChatError
from bridge.usecases import warnings
from bridge.usecases.templates import Templates
from bridge.usecases.warnings import WindowWatch
from tests import payloads
from tests.fakes import T0
from tests.integration.world import World

MARKS = (timedelta(hours=2), timedelta(minutes=30))


def _watch(world: World, templates: Templates | None = None) -> WindowWatch:
    return WindowWatch(uow=world.uow, clock=world.clock, marks=MARKS, templates=templates)


async def _customer_writes(world: World, wamid: str) -> None:
    at = world.clock.now()
    await world.webhook(payloads.messages(payloads.text(wamid, "hello", at=at)))
    await world.drain()


def _warnings(world: World) -> list[str]:
    return [p.text for p in world.chat.posts if p.text.startswith("notice:window_warning")]


async def test_one_warning_per_mark_whatever_the_number_of_scanners(world: World) -> None:
    await _customer_writes(world, "wamid.1")  # the window ends at T0 + 24 h
    first, second = _watch(world), _watch(world)  # as two scheduler processes would
    world.clock.advance(hours=21)  # 3 h left: no mark reached
    assert (await first.scan()).warned == 0
    world.clock.advance(hours=1, minutes=1)  # 1 h 59 min left: the 2 h mark
    assert (await first.scan()).warned == 1
    assert (await second.scan()).warned == 0
    assert (await first.scan()).warned == 0
    world.clock.advance(hours=1, minutes=30)  # 29 min left: the 30 min mark
    assert [(await w.scan()).warned for w in (second, first)] == [1, 0]
    await world.drain()
    assert len(_warnings(world)) == 2


async def test_after_an_outage_only_the_nearest_mark_speaks(world: World) -> None:
    await _customer_writes(world, "wamid.1")
    world.clock.advance(hours=23, minutes=40)  # both marks passed while nobody looked
    assert (await _watch(world).scan()).warned == 1
    await world.drain()
    assert len(_warnings(world)) == 1
    assert (await _watch(world).scan()).warned == 0


async def test_a_customer_message_renews_the_window_and_arms_the_marks_again(
    world: World,
) -> None:
    await _customer_writes(world, "wamid.1")
    watch = _watch(world)
    world.clock.advance(hours=22, minutes=30)
    assert (await watch.scan()).warned == 1
    await _customer_writes(world, "wamid.2")  # a new window: ends 24 h from now
    world.clock.advance(hours=22, minutes=30)
    assert (await watch.scan()).warned == 1
    await world.drain()
    assert len(_warnings(world)) == 2


async def test_the_parent_shows_the_window_and_a_burst_costs_one_update(world: World) -> None:
    await _customer_writes(world, "wamid.0")
    thread = await world.thread()
    shown_before = len(world.chat.windows)
    world.clock.advance(minutes=1, seconds=10)  # the window's end moves a minute on
    for n in range(1, 6):
        at = world.clock.now() + timedelta(seconds=n)
        await world.webhook(payloads.messages(payloads.text(f"wamid.{n}", f"m{n}", at=at)))
    while await world.workers.inbox.run_once():
        pass
    await world.drain()
    assert len(world.chat.windows) == shown_before + 1
    assert world.chat.windows[-1] == (thread, world.clock.now() + timedelta(hours=24, seconds=5))


async def test_messages_that_leave_the_minute_shown_leave_the_parent_alone(world: World) -> None:
    world.clock.advance(seconds=5)
    await _customer_writes(world, "wamid.0")  # the parent: open until 12:00 (12:00:05)
    thread = await world.thread()
    shown = len(world.chat.windows)
    world.clock.advance(seconds=40)
    await _customer_writes(world, "wamid.1")  # ends at 12:00:45: the same minute
    assert len(world.chat.windows) == shown
    world.clock.advance(seconds=20)
    await _customer_writes(world, "wamid.2")  # ends at 12:01:05: a minute on
    assert world.chat.windows[shown:] == [(thread, world.clock.now() + timedelta(hours=24))]
    # A message sent earlier, come late, moves nothing.
    late = T0 + timedelta(seconds=1)
    await world.webhook(payloads.messages(payloads.text("wamid.3", "earlier", at=late)))
    await world.drain()
    assert len(world.chat.windows) == shown + 1
    # Once the window closed, the parent says so; the next message opens it again.
    world.clock.advance(hours=24, minutes=2)
    await _customer_writes(world, "wamid.4")
    assert world.chat.windows[-1] == (thread, world.clock.now() + timedelta(hours=24))
    assert len(world.chat.windows) == shown + 2


async def test_an_update_already_waiting_is_not_queued_again_by_the_next_webhook(
    world: World,
) -> None:
    await _customer_writes(world, "wamid.0")
    world.clock.advance(minutes=1)  # the window's end moves a minute on
    for n in (1, 2):  # two webhooks, each in a batch of its own, nothing posted between
        at = world.clock.now()
        await world.webhook(payloads.messages(payloads.text(f"wamid.{n}", f"m{n}", at=at)))
        assert await world.workers.inbox.run_once() == 1
    waiting = [j for j in await world.job_states("show_window") if j[1] == "pending"]
    assert len(waiting) == 1


async def test_the_parent_says_closed_once_the_window_closes(world: World) -> None:
    await _customer_writes(world, "wamid.1")
    shown = len(world.chat.windows)
    world.clock.advance(hours=24, minutes=1)
    result = await _watch(world).scan()
    assert (result.warned, result.closed) == (0, 1)
    await world.drain()
    assert len(world.chat.windows) == shown + 1
    assert (await _watch(world).scan()).closed == 0


async def test_a_warning_and_its_parent_update_are_one_job(world: World) -> None:
    await _customer_writes(world, "wamid.1")
    thread = await world.thread()
    shown = len(world.chat.windows)
    world.clock.advance(hours=22, minutes=30)
    async with world.uow.engine.connect() as connection:
        before = (await connection.execute(text("SELECT count(*) FROM jobs"))).scalar_one()
    assert (await _watch(world).scan()).warned == 1
    async with world.uow.engine.connect() as connection:
        after = (await connection.execute(text("SELECT count(*) FROM jobs"))).scalar_one()
    assert after == before + 1
    await world.drain()
    assert len(_warnings(world)) == 1
    assert world.chat.windows[shown:] == [(thread, T0 + timedelta(hours=24))]


async def test_a_parent_slack_will_not_update_still_gets_its_warning(world: World) -> None:
    await _customer_writes(world, "wamid.1")
    shown = len(world.chat.windows)
    world.clock.advance(hours=22, minutes=30)
    assert (await _watch(world).scan()).warned == 1
    world.chat.fail_next.append(
        ChatError("gone", kind=FailureKind.PERMANENT, error="message_not_found")
    )
    await world.drain()
    assert len(_warnings(world)) == 1
    assert len(world.chat.windows) == shown  # the update was refused, and said so in the log
    async with world.uow.engine.connect() as connection:
        states = (await connection.execute(text("SELECT state FROM jobs"))).scalars().all()
    assert set(states) == {"done"}


async def test_warnings_suggest_templates_for_the_contact(world: World) -> None:
    world.whatsapp.account_templates = [
        MessageTemplate(name="promo", language="de", category="MARKETING", status="APPROVED"),
        MessageTemplate(name="status", language="de", category="UTILITY", status="APPROVED"),
        MessageTemplate(name="hello", language="en", category="UTILITY", status="APPROVED"),
        MessageTemplate(name="paused", language="de", category="UTILITY", status="PAUSED"),
        MessageTemplate(name="other", language="fr", category="UTILITY", status="APPROVED"),
    ]
    templates = Templates(uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id="W")
    await templates.sync()
    await _customer_writes(world, "wamid.1")  # a German number
    world.clock.advance(hours=22, minutes=30)
    await _watch(world, templates).scan()
    async with world.uow.engine.connect() as connection:
        [stored] = (
            await connection.execute(
                text("SELECT payload FROM jobs WHERE job_type = 'post_notice' ORDER BY id DESC")
            )
        ).first() or [None]
    payload = stored if isinstance(stored, dict) else json.loads(stored)
    # German first (the contact's country), UTILITY before MARKETING, never a paused one.
    assert payload["notice"]["suggestions"] == ["status:de", "promo:de", "hello:en"]
    await world.drain()
    [warning] = _warnings(world)
    assert warning == "notice:window_warning:None"


async def test_a_scan_records_many_windows_in_batches_each_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warnings, "BATCH", 2)  # five windows: three transactions
    customers = [f"4915100000{n:03d}" for n in range(5)]
    for n, wa_id in enumerate(customers):
        at = world.clock.now()
        text = payloads.text(f"wamid.{n}", "hello", at=at, wa_id=wa_id)
        await world.webhook(payloads.messages(text, wa_id=wa_id, name=f"C{n}"))
    await world.drain()
    shown = len(world.chat.windows)
    first, second = _watch(world), _watch(world)
    world.clock.advance(hours=22, minutes=30)
    assert (await first.scan()).warned == 5
    assert (await second.scan()).warned == 0
    await world.drain()
    assert len(_warnings(world)) == 5
    assert len(world.chat.windows) == shown + 5  # each parent once
    world.clock.advance(hours=2)  # every window closed
    result = await second.scan()
    assert (result.warned, result.closed) == (0, 5)
    assert (await first.scan()).closed == 0


async def test_after_its_first_scan_a_process_looks_for_closes_since_its_last_scan(
    world: World,
) -> None:
    await _customer_writes(world, "wamid.1")  # the window ends at T0 + 24 h
    watch = _watch(world)
    assert (await watch.scan()).closed == 0
    world.clock.advance(hours=24, minutes=1)
    assert (await watch.scan()).closed == 1  # closed since the last scan
    await world.drain()
    thread = await world.thread()

    world.clock.advance(hours=6)
    assert (await watch.scan()).closed == 0

    # A message sent an hour after the first, arriving thirty hours late: its window (later
    # than the first's) is closed on arrival, and ended before this process's last scan.
    late = T0 + timedelta(hours=1)
    await world.webhook(payloads.messages(payloads.text("wamid.2", "still there?", at=late)))
    await world.drain()
    # Its own message queued the parent's update, which shows it closed: the scan of this
    # process, which looks back to its last scan, has nothing to add...
    assert world.chat.windows[-1] == (thread, late + timedelta(hours=24))
    assert late + timedelta(hours=24) <= world.clock.now()
    assert (await watch.scan()).closed == 0
    # ...where a process that just started looks a day back.
    assert (await _watch(world).scan()).closed == 1


async def test_a_window_written_already_past_a_mark_is_found_by_a_later_scan(
    world: World,
) -> None:
    watch = _watch(world)
    for _ in range(warnings.SWEEP_PARTS * 2 + 1):  # its sweep went round twice already
        await watch.scan()  # from the second on, it looks first at what reached a mark since
        world.clock.advance(minutes=1)
    # A message sent 22 h 30 min ago arrives now (after an outage): its window ends in 1 h 30
    # min, past its 2 h mark, which it reached before any scan could see it.
    sent = world.clock.now() - timedelta(hours=22, minutes=30)
    await world.webhook(payloads.messages(payloads.text("wamid.late", "hello?", at=sent)))
    await world.drain()
    scans = 0
    while scans < 2 * warnings.SWEEP_PARTS and not _warnings(world):  # a round and the next
        world.clock.advance(minutes=1)
        scans += 1
        await watch.scan()
        await world.drain()
    assert len(_warnings(world)) == 1
    for _ in range(warnings.SWEEP_PARTS * 2):  # a whole round and more: warned once
        world.clock.advance(minutes=1)
        assert (await watch.scan()).warned == 0
    world.clock.current = sent + timedelta(hours=23, minutes=31)
    assert (await watch.scan()).warned == 1  # 29 min left: the 30 min mark speaks as usual
