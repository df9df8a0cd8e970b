"""What a customer does to earlier messages shows where it happened: reactions on the post,
edits in it, deletions marked; a reply shows what it replies to."""

from __future__ import annotations

import json
from typing import Any

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
    assert world.chat.thread(await world.thread())[-1] == "👍"
    assert json.dumps(world.chat.customer_reactions) == "{}"
