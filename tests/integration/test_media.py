"""A customer's pictures and files: the post first, the file after, never holding anything up."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bridge.domain import FailureKind
from bridge.errors import DeliveryError
from bridge.jobs import Lane
from tests import payloads
from tests.fakes import T0, transient_chat_error
from tests.integration.world import RETRY_FOR, World

PHOTO = b"\x89PNG fake picture bytes"


def _media(wamid: str, kind: str, media_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "from": "4915112345678",
        "id": wamid,
        "timestamp": str(int(T0.timestamp())),
        "type": kind,
        kind: {"id": media_id, "mime_type": "image/png", **extra},
    }


def _body(*items: dict[str, Any]) -> bytes:
    contacts = [{"profile": {"name": "Ada"}, "wa_id": "4915112345678"}]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": payloads.DISPLAY_NUMBER,
            "phone_number_id": payloads.PHONE_NUMBER_ID,
        },
        "contacts": contacts,
        "messages": list(items),
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(envelope).encode()


async def test_a_picture_arrives_as_a_file_after_its_caption(world: World) -> None:
    world.whatsapp.media["M1"] = (PHOTO, "image/png")
    await world.webhook(_body(_media("wamid.1", "image", "M1", caption="my parcel")))
    await world.drain()
    thread = await world.thread()
    texts = world.chat.thread(thread)
    assert texts[0] == "my parcel" and texts[1].startswith("file:image-")
    [shared] = world.chat.shared_files(thread)
    assert shared["content"] == PHOTO and shared["name"].endswith(".png")


async def test_a_document_keeps_its_name(world: World) -> None:
    world.whatsapp.media["D1"] = (b"%PDF-1.7", "application/pdf")
    await world.webhook(_body(_media("wamid.1", "document", "D1", filename="invoice 42.pdf")))
    await world.drain()
    [shared] = world.chat.shared_files(await world.thread())
    assert shared["name"] == "invoice 42.pdf"


async def test_a_file_that_cannot_be_fetched_never_holds_up_the_conversation(
    world: World,
) -> None:
    world.whatsapp.media_fails_with = DeliveryError(
        code=None, title="Could not reach WhatsApp", kind=FailureKind.TRANSIENT
    )
    await world.webhook(_body(_media("wamid.1", "image", "M1")))
    await world.webhook(payloads.messages(payloads.text("wamid.2", "did you get it?", at=T0)))
    await world.drain()
    thread = await world.thread()
    assert world.chat.thread(thread)[-1] == "did you get it?"
    # Retried as its own job until the retry bound, then the thread says so.
    while world.clock.now() - T0 < RETRY_FOR + timedelta(minutes=10):
        world.clock.advance(minutes=5)
        await world.drain()
    assert world.chat.thread(thread)[-1] == "notice:file_not_relayed:None"
    assert ("relay_media", "failed", "meta:other") in await world.job_states("relay_media")


async def test_meta_refusing_our_token_for_a_file_never_pauses_slack_work(world: World) -> None:
    """A customer's file is Slack work that calls Meta: Meta refusing the token (190) must
    hold up that file alone, not every customer message waiting for Slack."""
    world.whatsapp.media_fails_with = DeliveryError(
        code=190, title="Session has expired", kind=FailureKind.AUTH
    )
    await world.webhook(_body(_media("wamid.1", "image", "M1")))
    await world.drain()
    await world.webhook(payloads.messages(payloads.text("wamid.2", "did you get it?", at=T0)))
    await world.drain()
    thread = await world.thread()
    assert world.chat.thread(thread)[-1] == "did you get it?"
    assert await world.paused() == []
    [(_, state, _)] = await world.job_states("relay_media")
    assert state == "pending"  # waiting for its retry
    world.whatsapp.media_fails_with = None
    world.whatsapp.media["M1"] = (PHOTO, "image/png")
    world.clock.advance(minutes=5)
    await world.drain()
    [shared] = world.chat.shared_files(thread)
    assert shared["content"] == PHOTO


async def test_meta_failing_a_files_fetch_tells_nothing_of_slacks_credentials(
    world: World,
) -> None:
    """Slack work paused on Slack's refused token: a customer's file, let through as the
    probe, fails on Meta's side before any Slack call. That says nothing of Slack's token,
    so the pause stays (only a Slack answer lifts it)."""
    world.whatsapp.media_fails_with = DeliveryError(
        code=None, title="Could not reach WhatsApp", kind=FailureKind.TRANSIENT
    )
    await world.webhook(_body(_media("wamid.1", "image", "M1")))
    await world.drain()  # posted; its file waits for a retry
    async with world.uow() as uow:
        await uow.pauses.pause(Lane.SLACK, reason="slack:token_revoked", now=T0, probe_after=T0)
        await uow.commit()
    probe = world.other_worker()  # reads the pause on its first claim
    world.clock.advance(seconds=11)
    assert await probe.run_once() == 1  # the file's job, let through as the probe
    assert ("relay_media", "pending", "meta:other") in await world.job_states("relay_media")
    assert await world.paused() == [Lane.SLACK]


async def test_a_file_too_large_gets_a_notice_at_once(world: World) -> None:
    world.whatsapp.media["BIG"] = (b"x" * 64, "video/mp4")
    from bridge.usecases import media

    limit, media.MAX_RELAY_BYTES = media.MAX_RELAY_BYTES, 16  # type: ignore[misc]
    try:
        await world.webhook(_body(_media("wamid.1", "video", "BIG")))
        await world.drain()
    finally:
        media.MAX_RELAY_BYTES = limit  # type: ignore[misc]
    thread = await world.thread()
    assert world.chat.thread(thread)[-1] == "notice:file_not_relayed:None"
    assert world.whatsapp.calls == 0
    assert ("relay_media", "failed", "media_too_large") in await world.job_states("relay_media")


async def test_a_file_shared_before_a_crash_is_not_shared_twice(world: World) -> None:
    world.whatsapp.media["M1"] = (PHOTO, "image/png")
    world.chat.fail_next.append(transient_chat_error())  # the upload fails once...
    await world.webhook(_body(_media("wamid.1", "image", "M1")))
    await world.drain()
    world.clock.advance(seconds=5)
    await world.drain()
    thread = await world.thread()
    assert len(world.chat.shared_files(thread)) == 1
    # ...and a job that finds its file already shared only records it.
    async with world.uow() as uow:
        [conversation] = await uow.conversations.list_recent(limit=10, offset=0)
        messages = await uow.messages.for_conversation(conversation.id)
        [message] = [m for m in messages if m.wamid == "wamid.1"]
    assert message.content["relay"]["shared"] is True
