"""Delivery statuses over a real database: in any order, played voice notes, late failures,
Meta's pricing, and statuses for messages this bridge never sent."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from datetime import timedelta

import pytest
from sqlalchemy import event

from bridge.domain import MessageStatus
from bridge.ports import MessageRecord
from bridge.usecases.statuses import UNKNOWN_STATUSES
from slack_app.messages import notice_text
from storage.repositories.messages import SqlMessages
from tests import payloads
from tests.fakes import T0, meta_error
from tests.integration.world import World
from webhook_server.schemas import MessageResponse

MINUTE = timedelta(minutes=1)


async def _sent_reply(world: World, text: str = "Hi") -> tuple[str, MessageRecord]:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    thread = await world.thread()
    message = await world.reply(thread, text)
    assert message.status == MessageStatus.SENT and message.wamid is not None
    return thread, message


async def _statuses(world: World, wamid: str, *steps: tuple[str, int]) -> MessageRecord:
    """Meta reports ``(status, minutes after T0)`` for ``wamid``, in this order."""
    for state, minutes in steps:
        await world.webhook(payloads.status(wamid, state, at=T0 + minutes * MINUTE))
    await world.drain()
    async with world.uow() as uow:
        message = await uow.messages.by_wamid(wamid)
    assert message is not None
    return message


async def _statements_of_one_pass(world: World, webhooks: list[bytes]) -> int:
    """How many statements the inbox worker runs for one pass over ``webhooks``."""
    for body in webhooks:
        await world.webhook(body)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(world.uow.engine.sync_engine, "before_cursor_execute", count)
    try:
        assert await world.workers.inbox.run_once() == len(webhooks)
    finally:
        event.remove(world.uow.engine.sync_engine, "before_cursor_execute", count)
    return len(statements)


async def test_a_played_voice_note_is_recorded_and_shown_after_read(world: World) -> None:
    _, reply = await _sent_reply(world)
    assert reply.wamid is not None
    message = await _statuses(world, reply.wamid, ("delivered", 1), ("read", 2), ("played", 3))
    assert message.status == MessageStatus.PLAYED
    assert message.played_at == T0 + 3 * MINUTE and message.read_at == T0 + 2 * MINUTE
    ts = str(reply.slack_ts)
    assert world.chat.reactions[ts] == ["sent", "delivered", "read", "played"]
    # The REST API keeps to the contract's statuses: a played message was read.
    shown = MessageResponse.of(message).model_dump(mode="json")
    assert (shown["status"], shown["read_at"]) == ("read", "2026-11-27T12:02:00Z")

    again = await _statuses(world, reply.wamid, ("read", 4), ("delivered", 5))
    assert again.status == MessageStatus.PLAYED  # never back from played
    assert world.chat.reactions[ts] == ["sent", "delivered", "read", "played"]


async def test_statuses_out_of_order_never_go_back_and_fill_in_what_they_imply(
    world: World,
) -> None:
    _, reply = await _sent_reply(world)
    assert reply.wamid is not None
    ts = str(reply.slack_ts)
    read_first = await _statuses(world, reply.wamid, ("read", 5))
    assert read_first.status == MessageStatus.READ
    # Read means it was delivered by then: the thread shows every stage reached.
    assert world.chat.reactions[ts] == ["sent", "delivered", "read"]
    assert read_first.delivered_at == T0 + 5 * MINUTE

    late = await _statuses(world, reply.wamid, ("delivered", 2), ("sent", 1))
    assert late.status == MessageStatus.READ
    assert late.delivered_at == T0 + 2 * MINUTE  # the real time replaces the guess
    assert (late.sent_at, late.read_at) == (T0, T0 + 5 * MINUTE)
    assert world.chat.reactions[ts] == ["sent", "delivered", "read"]
    # Shown twice (the send, then the read): the late ones had nothing new to show.
    assert len(await world.job_states("show_delivery")) == 2


async def test_a_played_status_before_any_other_shows_every_stage(world: World) -> None:
    _, reply = await _sent_reply(world)
    assert reply.wamid is not None
    message = await _statuses(world, reply.wamid, ("played", 3), ("read", 2), ("delivered", 1))
    assert message.status == MessageStatus.PLAYED
    assert (message.delivered_at, message.read_at, message.played_at) == (
        T0 + MINUTE,
        T0 + 2 * MINUTE,
        T0 + 3 * MINUTE,
    )
    assert world.chat.reactions[str(reply.slack_ts)] == ["sent", "delivered", "read", "played"]


@pytest.mark.parametrize("before", [[], ["delivered"]], ids=["after sent", "after delivered"])
async def test_a_late_failure_is_shown_like_one_refused_at_once(
    world: World, before: list[str]
) -> None:
    thread, late = await _sent_reply(world, "sent, then failed")
    assert late.wamid is not None
    world.whatsapp.fail_next.append(meta_error(131047, "Re-engagement message"))
    at_once = await world.reply(thread, "refused at once")
    assert at_once.status == MessageStatus.FAILED

    await world.webhook(payloads.status(late.wamid, "sent", at=T0))
    for state in before:
        await world.webhook(payloads.status(late.wamid, state, at=T0 + MINUTE))
    failure = (131047, "Re-engagement message")
    await world.webhook(payloads.status(late.wamid, "failed", at=T0 + 2 * MINUTE, error=failure))
    await world.drain()

    failed = await world.message(late.id)
    assert (failed.status, failed.error_code) == (MessageStatus.FAILED, 131047)
    assert failed.failed_at == T0 + 2 * MINUTE
    # The same ❌ on the agent's message, and the same words in the thread.
    assert world.chat.reactions[str(at_once.slack_ts)] == ["failed"]
    assert world.chat.reactions[str(late.slack_ts)][-1] == "failed"
    first, second = world.chat.notices
    assert (first.reply_ts, second.reply_ts) == (at_once.slack_ts, late.slack_ts)
    assert notice_text(second, now=T0) == notice_text(first, now=T0)
    assert "131047" in notice_text(second, now=T0)
    assert world.chat.thread(thread)[-2:] == ["notice:delivery_failed:131047"] * 2


async def test_a_failure_after_read_changes_nothing(world: World) -> None:
    _, reply = await _sent_reply(world)
    assert reply.wamid is not None
    await _statuses(world, reply.wamid, ("read", 1))
    await world.webhook(
        payloads.status(reply.wamid, "failed", at=T0 + 2 * MINUTE, error=(131026, "Undeliverable"))
    )
    await world.drain()
    assert (await world.message(reply.id)).status == MessageStatus.READ
    assert world.chat.notices == []
    assert "failed" not in world.chat.reactions[str(reply.slack_ts)]


async def test_meta_pricing_is_kept_on_the_message(world: World) -> None:
    _, reply = await _sent_reply(world)
    assert reply.wamid is not None
    pricing = {"billable": True, "pricing_model": "PMP", "category": "service"}
    await world.webhook(payloads.status(reply.wamid, "sent", at=T0, pricing=pricing))
    await world.webhook(
        payloads.status(reply.wamid, "delivered", at=T0 + MINUTE, pricing={"category": "utility"})
    )
    await world.drain()
    message = await world.message(reply.id)
    assert (message.pricing_category, message.billable, message.pricing_model) == (
        "utility",
        True,
        "PMP",
    )
    assert MessageResponse.of(message).model_dump(mode="json")["pricing_category"] == "utility"


async def test_a_status_for_a_message_never_sent_is_counted_and_logged_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.workers")
    old = T0 - 10 * MINUTE  # too old to be racing a send of ours
    await world.webhook(payloads.status("wamid.NEVER1", "delivered", at=old))
    await world.webhook(payloads.status("wamid.NEVER2", "played", at=old))
    await world.drain()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0
        assert await uow.inbox.failed(limit=5) == []  # not a dead letter
        assert (await uow.counters.all())[UNKNOWN_STATUSES] == 2
    logged = [r for r in caplog.records if "never sent" in r.getMessage()]
    assert [(r.wamid, r.status) for r in logged] == [  # type: ignore[attr-defined]
        ("wamid.NEVER1", "delivered"),
        ("wamid.NEVER2", "played"),
    ]
    assert world.chat.posts == [] and await world.job_states() == []


async def test_a_recent_unknown_status_is_looked_at_again_and_counted_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.workers")
    await world.webhook(payloads.status("wamid.LATER", "read", at=T0))
    await world.workers.inbox.run_once()
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 1  # kept for a later look, not dropped
        assert await uow.counters.all() == {}  # nor counted yet
    for _ in range(10):  # it may be racing our own send: looked at again, then let go
        await world.drain()
        world.clock.advance(seconds=40)
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0
        assert (await uow.counters.all())[UNKNOWN_STATUSES] == 1
    assert len([r for r in caplog.records if "never sent" in r.getMessage()]) == 1


async def test_a_batch_of_statuses_takes_as_many_statements_for_eight_messages_as_for_one(
    world: World,
) -> None:
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    thread = await world.thread()
    replies = [await world.reply(thread, f"answer {n}") for n in range(9)]

    async def inbox_statements(wamids: list[str | None]) -> int:
        at = T0 + MINUTE
        bodies = [payloads.status(w, "delivered", at=at) for w in wamids if w is not None]
        count = await _statements_of_one_pass(world, bodies)
        await world.drain()
        return count

    one = await inbox_statements([replies[0].wamid])
    eight = await inbox_statements([r.wamid for r in replies[1:]])
    assert eight == one
    for reply in replies:  # and each shows what it reached
        assert world.chat.reactions[str(reply.slack_ts)] == ["sent", "delivered"]
    async with world.uow() as uow:
        delivered = [await uow.messages.get(r.id) for r in replies]
    assert {(m.status, m.delivered_at) for m in delivered if m} == {
        (MessageStatus.DELIVERED, T0 + MINUTE)
    }


async def test_eight_webhooks_of_statuses_for_messages_not_stored_cost_what_one_does(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # A broadcast's statuses racing its sends, or another app's on the same number: a flood
    # of them once cost a transaction each, every time each was read again.
    caplog.set_level(logging.INFO, logger="bridge.workers")

    async def inbox_statements(wamids: list[str]) -> int:
        bodies = [payloads.status(wamid, "delivered", at=T0) for wamid in wamids]
        return await _statements_of_one_pass(world, bodies)

    one = await inbox_statements(["wamid.ELSEWHERE0"])
    eight = await inbox_statements([f"wamid.ELSEWHERE{n}" for n in range(1, 9)])
    assert eight == one
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 9  # each kept for a later look, none dropped
        assert await uow.counters.all() == {}
    for _ in range(10):  # looked at again while they may be racing a send, then let go
        await world.drain()
        world.clock.advance(seconds=40)
    async with world.uow() as uow:
        assert await uow.inbox.depth() == 0
        assert await uow.inbox.failed(limit=10) == []
        assert (await uow.counters.all())[UNKNOWN_STATUSES] == 9
    logged = sorted(r.wamid for r in caplog.records if "never sent" in r.getMessage())  # type: ignore[attr-defined]
    assert logged == sorted(f"wamid.ELSEWHERE{n}" for n in range(9))
    assert world.chat.posts == [] and await world.job_states() == []


async def test_a_status_before_its_send_waits_alone_and_the_rest_of_its_batch_goes_on(
    world: World,
) -> None:
    _, reply = await _sent_reply(world)
    assert reply.wamid is not None
    await world.webhook(payloads.status("wamid.NOT_YET", "delivered", at=T0))
    await world.webhook(payloads.status(reply.wamid, "read", at=T0 + MINUTE))
    await world.drain()
    assert (await world.message(reply.id)).status == MessageStatus.READ
    assert world.chat.reactions[str(reply.slack_ts)] == ["sent", "delivered", "read"]
    assert await world.inbox_states() == [("done", None), ("pending", None), ("done", None)]


async def test_a_batch_locks_every_message_its_statuses_name_before_any_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers' batches that locked their messages a few at a time, webhook by webhook,
    # deadlocked now and then on PostgreSQL (seen in the fault run with two workers). All
    # at once, in one statement, in one order, they wait for each other instead.
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Need help", at=T0)))
    await world.drain()
    thread = await world.thread()
    first, second = await world.reply(thread, "One"), await world.reply(thread, "Two")
    assert first.wamid is not None and second.wamid is not None
    at = T0 + timedelta(minutes=1)
    # A webhook with something besides statuses is taken alone, before the batch's others.
    mixed = json.loads(payloads.status(second.wamid, "delivered", at=at))
    mixed["entry"][0]["changes"].append({"field": "flows", "value": {"event": "FLOW_STATUS"}})
    await world.webhook(json.dumps(mixed).encode())
    await world.webhook(payloads.status(first.wamid, "delivered", at=at))
    locked: list[set[str]] = []
    real = SqlMessages.lock_many_by_wamid

    async def recording(self: SqlMessages, wamids: Collection[str]) -> dict[str, MessageRecord]:
        if wamids:
            locked.append(set(wamids))
        return await real(self, wamids)

    monkeypatch.setattr(SqlMessages, "lock_many_by_wamid", recording)
    assert await world.workers.inbox.run_once() == 2
    assert locked[0] == {first.wamid, second.wamid}
    await world.drain()
    assert (await world.message(first.id)).status == MessageStatus.DELIVERED
    assert (await world.message(second.id)).status == MessageStatus.DELIVERED
