"""What a customer does to earlier messages shows where it happened: reactions on the post,
edits in it, deletions marked; a reply shows what it replies to."""

from __future__ import annotations

import json
from typing import Any

from bridge.usecases.inbound import CHANGE_WAIT
from tests import payloads
from tests.fakes import T0
from tests.integration.world import World


def _message(wamid: str, kind: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "from": "4915112345678",
        "id": wamid,
        "timestamp": str(int(T0.timestamp())),
        "type": kind,
        kind: body,
        **extra,
    }


async def _send(world: World, *items: dict[str, Any]) -> None:
    await world.webhook(payloads.messages(*items))
    await world.drain()


async def _first_post(world: World) -> str:
    await _send(world, payloads.text("wamid.1", "My parcel is late", at=T0))
    return next(p.ts for p in world.chat.posts if p.text == "My parcel is late")


async def test_a_reaction_shows_on_the_post_and_its_removal_takes_it_away(world: World) -> None:
    post = await _first_post(world)
    await _send(world, _message("wamid.2", "reaction", {"message_id": "wamid.1", "emoji": "😮"}))
    assert world.chat.customer_reactions[post] == ["😮"]
    await _send(world, _message("wamid.3", "reaction", {"message_id": "wamid.1", "emoji": ""}))
    assert world.chat.customer_reactions[post] == []
    assert len(world.chat.thread(await world.thread())) == 1  # no extra lines


async def test_a_reaction_that_would_look_like_a_status_is_a_line(world: World) -> None:
    await _first_post(world)
    await _send(world, _message("wamid.2", "reaction", {"message_id": "wamid.1", "emoji": "👀"}))
    assert world.chat.customer_reactions == {}
    assert world.chat.thread(await world.thread())[-1] == "👀"


async def test_an_edit_updates_the_post_and_a_deletion_marks_it(world: World) -> None:
    post = await _first_post(world)
    edit = {
        "original_message_id": "wamid.1",
        "message": {"type": "text", "text": {"body": "My parcel is VERY late"}},
    }
    await _send(world, _message("wamid.2", "edit", edit))
    assert (
        next(p.text for p in world.chat.posts if p.ts == post) == "My parcel is VERY late(edited)"
    )
    await _send(world, _message("wamid.3", "revoke", {"original_message_id": "wamid.1"}))
    assert next(p.text for p in world.chat.posts if p.ts == post) == "(deleted)"
    async with world.uow() as uow:
        original = await uow.messages.by_wamid("wamid.1")
    assert original is not None and original.status == "deleted"
    assert original.content["text"] == "My parcel is VERY late"


async def test_a_reply_shows_what_it_replies_to(world: World) -> None:
    await _first_post(world)
    reply = payloads.text("wamid.2", "any news?", at=T0)
    reply["context"] = {"from": "15550001111", "id": "wamid.1"}
    await _send(world, reply)
    assert world.chat.thread(await world.thread())[-1] == "> My parcel is late\nany news?"


async def test_a_reaction_to_a_message_the_thread_never_showed_is_a_line(world: World) -> None:
    await _first_post(world)
    await _send(world, _message("wamid.2", "reaction", {"message_id": "wamid.OLD", "emoji": "👍"}))
    # It waits a moment for a message that may be on its way (see below), then says itself.
    assert world.chat.thread(await world.thread())[-1] == "My parcel is late"
    world.clock.advance(seconds=CHANGE_WAIT.total_seconds())
    await world.drain()
    assert world.chat.thread(await world.thread())[-1] == "👍"
    assert json.dumps(world.chat.customer_reactions) == "{}"


def _at(seconds: int, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as the customer made it ``seconds`` after T0."""
    return {**item, "timestamp": str(int(T0.timestamp()) + seconds)}


async def test_an_edit_that_overtakes_its_message_is_shown_on_that_message(world: World) -> None:
    """Meta's webhooks may come in another order than the customer's: an edit first, then
    the message it edits. The edit waits for it; the customer's next message waits for both."""
    await _first_post(world)
    thread = await world.thread()
    edit = {
        "original_message_id": "wamid.2",
        "message": {"type": "text", "text": {"body": "Order #5521, not #5512"}},
    }
    await _send(world, _at(20, _message("wamid.3", "edit", edit)))
    await _send(world, _at(30, payloads.text("wamid.4", "Any news?", at=T0)))
    assert world.chat.thread(thread) == ["My parcel is late"]  # the edit waits, and after it

    world.clock.advance(seconds=1)
    await _send(world, _at(10, payloads.text("wamid.2", "Order #5512", at=T0)))
    world.clock.advance(seconds=2)  # the edit's retry
    await world.drain()
    assert world.chat.thread(thread) == [
        "My parcel is late",
        "Order #5521, not #5512(edited)",
        "Any news?",
    ]
    async with world.uow() as uow:
        edited = await uow.messages.by_wamid("wamid.2")
    assert edited is not None and edited.content["text"] == "Order #5521, not #5512"


async def test_an_edit_of_a_message_that_never_comes_is_a_line_with_its_words(
    world: World,
) -> None:
    await _first_post(world)
    edit = {
        "original_message_id": "wamid.OLD",
        "message": {"type": "text", "text": {"body": "Actually my order is #5521"}},
    }
    await _send(world, _message("wamid.2", "edit", edit))
    world.clock.advance(seconds=CHANGE_WAIT.total_seconds())
    await world.drain()
    assert world.chat.thread(await world.thread())[-1] == "Actually my order is #5521"
