"""An agent edits or deletes a thread reply: a queued one changes, a sent one cannot."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bridge.domain import MessageStatus
from bridge.usecases.replies import ChangeOutcome, ReplyChanges
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0
from tests.integration.world import CHANNEL, World


async def _world(uow: SqlUnitOfWorkFactory) -> tuple[World, ReplyChanges, str]:
    world = World.build(uow, settle=timedelta(seconds=1))  # replies wait before they go out
    await world.webhook(payloads.messages(payloads.text("wamid.IN", "Hi", at=T0)))
    await world.drain()
    return world, ReplyChanges(uow=uow, clock=world.clock), await world.thread()


async def test_an_edit_in_time_replaces_the_queued_text(uow_factory: SqlUnitOfWorkFactory) -> None:
    world, changes, thread = await _world(uow_factory)
    await world.queue_reply(thread, "See you tomorow", slack_ts="1.1")
    outcome = await changes.edit(
        channel=CHANNEL, slack_ts="1.1", text="See you tomorrow", event_id="E1"
    )
    world.clock.advance(seconds=2)
    await world.drain()
    assert outcome == ChangeOutcome.APPLIED
    assert [m["text"] for m in world.whatsapp.sent] == ["See you tomorrow"]
    assert "notice:edit_applied:None" in world.chat.thread(thread)


async def test_a_delete_in_time_cancels_the_reply(uow_factory: SqlUnitOfWorkFactory) -> None:
    world, changes, thread = await _world(uow_factory)
    result = await world.queue_reply(thread, "Oops, wrong customer", slack_ts="1.1")
    assert await changes.delete(channel=CHANNEL, slack_ts="1.1", event_id="E1") == "applied"
    world.clock.advance(seconds=2)
    await world.drain()
    assert world.whatsapp.sent == []
    assert (await world.message(result.message_ids[0])).status == MessageStatus.DELETED
    assert "notice:reply_cancelled:None" in world.chat.thread(thread)
    assert ("send_reply", "done", None) in await world.job_states("send_reply")


async def test_a_sent_reply_cannot_be_edited_or_deleted_and_the_agent_is_told(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    world, changes, thread = await _world(uow_factory)
    await world.queue_reply(thread, "Sent already", slack_ts="1.1")
    world.clock.advance(seconds=2)
    await world.drain()
    assert await changes.edit(channel=CHANNEL, slack_ts="1.1", text="Changed", event_id="E1") == (
        ChangeOutcome.TOO_LATE
    )
    assert await changes.delete(channel=CHANNEL, slack_ts="1.1", event_id="E2") == (
        ChangeOutcome.TOO_LATE
    )
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Sent already"]
    thread_texts = world.chat.thread(thread)
    assert "notice:edit_not_delivered:None" in thread_texts
    assert "notice:delete_not_delivered:None" in thread_texts
    # A redelivered event changes nothing more.
    assert await changes.edit(channel=CHANNEL, slack_ts="1.1", text="x", event_id="E1") == (
        ChangeOutcome.IGNORED
    )


async def test_edits_of_messages_the_bridge_never_took_are_ignored(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    world, changes, thread = await _world(uow_factory)
    assert await changes.edit(channel=CHANNEL, slack_ts="9.9", text="x", event_id=None) == (
        ChangeOutcome.IGNORED
    )
    await world.drain()
    assert not any("edit" in t for t in world.chat.thread(thread))


async def test_an_edit_while_the_reply_is_on_its_way_is_too_late_and_the_agent_is_told(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    world, changes, thread = await _world(uow_factory)
    await world.queue_reply(thread, "See you tomorow", slack_ts="1.1")
    send = world.whatsapp.send_message
    outcomes: list[ChangeOutcome] = []

    async def edit_meanwhile(**kwargs: Any) -> str:
        # The agent fixes the typo while the request to WhatsApp is in flight.
        outcomes.append(
            await changes.edit(
                channel=CHANNEL, slack_ts="1.1", text="See you tomorrow", event_id=None
            )
        )
        return await send(**kwargs)

    world.whatsapp.send_message = edit_meanwhile  # type: ignore[method-assign]
    world.clock.advance(seconds=2)
    await world.drain()
    assert outcomes == [ChangeOutcome.TOO_LATE]
    assert [m["text"] for m in world.whatsapp.sent] == ["See you tomorow"]
    assert "notice:edit_not_delivered:None" in world.chat.thread(thread)
