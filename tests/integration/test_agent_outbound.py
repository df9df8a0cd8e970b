"""What an agent does in a thread beyond typing: files go out as media, a link or a quote of a
customer's message makes the reply a WhatsApp reply to it, and reactions reach the customer."""

from __future__ import annotations

from datetime import timedelta

from bridge.domain import NoticeKind
from bridge.usecases.reactions import AgentReactions, ReactionOutcome
from bridge.usecases.replies import AgentFile, Quote, ReplyOutcome
from slack_app.listeners.messages import agent_files, is_agent_reply, posted_at
from tests import payloads
from tests.fakes import T0, meta_error
from tests.integration.world import CHANNEL, World

PHOTO = b"\x89PNG" + bytes(range(256)) * 40


def _file(name: str, mime: str, size: int, *, file_id: str = "F1") -> AgentFile:
    return AgentFile(
        id=file_id, name=name, mime_type=mime, size=size, url=f"https://files.slack.com/{file_id}"
    )


async def _open(world: World) -> str:
    await world.webhook(payloads.messages(payloads.text("wamid.1", "My parcel is late", at=T0)))
    await world.drain()
    return await world.thread()


async def _queue(world: World, thread: str, text: str = "", **kwargs: object) -> ReplyOutcome:
    ts = world.next_slack_ts()
    result = await world.replies.queue(
        channel=CHANNEL,
        thread_ts=thread,
        slack_ts=ts,
        posted_at=posted_at(ts),
        user="U1",
        text=text,
        event_id=None,
        **kwargs,  # type: ignore[arg-type]
    )
    await world.drain()
    return result.outcome


async def test_a_picture_with_a_few_words_goes_out_as_an_image_with_its_caption(
    world: World,
) -> None:
    thread = await _open(world)
    world.chat.agent_files["https://files.slack.com/F1"] = PHOTO
    outcome = await _queue(
        world, thread, "Is it this one?", files=[_file("box.png", "image/png", len(PHOTO))]
    )
    assert outcome == ReplyOutcome.QUEUED
    [(media_id, (content, mime, name))] = world.whatsapp.uploads.items()
    assert (content, mime, name) == (PHOTO, "image/png", "box.png")
    [sent] = world.whatsapp.sent
    assert sent["type"] == "image"
    assert sent["media_id"] == media_id and sent["caption"] == "Is it this one?"


async def test_a_file_the_bridge_cannot_fetch_is_told_and_the_words_still_go(
    world: World,
) -> None:
    """A Google Drive file shared in Slack is a link Slack keeps, not a file: the agent is
    told, and the rest of the reply goes out."""
    thread = await _open(world)
    shared = {
        "id": "F9",
        "name": "terms.pdf",
        "mode": "external",
        "mimetype": "application/pdf",
        "url_private": "https://docs.google.com/x",
    }
    files = agent_files({"files": [shared]})
    outcome = await _queue(world, thread, "Here are the terms", files=files)
    assert outcome == ReplyOutcome.QUEUED
    assert [m["text"] for m in world.whatsapp.sent] == ["Here are the terms"]
    assert world.chat.thread(thread)[-1] == f"notice:{NoticeKind.FILE_NOT_SENT.value}:None"
    # Alone, with no words: the agent is told, and nothing is sent.
    outcome = await _queue(world, thread, "", files=files)
    assert outcome == ReplyOutcome.EMPTY
    assert len(world.whatsapp.sent) == 1
    notices = [t for t in world.chat.thread(thread) if t.startswith("notice:file_not_sent")]
    assert len(notices) == 2
    assert is_agent_reply(
        {"user": "U1", "ts": "2.0", "thread_ts": "1.0", "text": "", "files": [shared]},
        note_prefix="//",
    )


async def test_text_goes_first_then_each_file_and_a_pdf_is_a_document(world: World) -> None:
    thread = await _open(world)
    world.chat.agent_files["https://files.slack.com/F1"] = PHOTO
    world.chat.agent_files["https://files.slack.com/F2"] = b"%PDF-1.4 invoice"
    files = [
        _file("box.png", "image/png", len(PHOTO)),
        _file("invoice.pdf", "application/pdf", 16, file_id="F2"),
    ]
    await _queue(world, thread, "Here are both", files=files)
    assert [s.get("type", "text") for s in world.whatsapp.sent] == ["text", "image", "document"]
    assert world.whatsapp.sent[0]["text"] == "Here are both"
    assert world.whatsapp.sent[2]["filename"] == "invoice.pdf"


async def test_a_file_too_large_for_whatsapp_is_explained_and_nothing_is_sent(
    world: World,
) -> None:
    thread = await _open(world)
    big = _file("holiday.mp4", "video/mp4", 40 * 1024 * 1024)
    outcome = await _queue(world, thread, files=[big])
    assert outcome == ReplyOutcome.EMPTY
    assert world.whatsapp.sent == [] and world.whatsapp.uploads == {}
    assert world.chat.thread(thread)[-1] == f"notice:{NoticeKind.FILE_NOT_SENT.value}:None"
    conversation_id = await _conversation_id(world)
    async with world.uow() as uow:
        messages = await uow.messages.for_conversation(conversation_id)
    assert [m.direction.value for m in messages] == ["inbound"]


async def test_a_failed_send_after_the_upload_does_not_upload_again(world: World) -> None:
    thread = await _open(world)
    world.chat.agent_files["https://files.slack.com/F1"] = PHOTO
    world.whatsapp.fail_next.append(meta_error(131000))
    await _queue(world, thread, files=[_file("box.png", "image/png", len(PHOTO))])
    world.clock.advance(seconds=30)
    await world.drain()
    assert len(world.whatsapp.uploads) == 1
    assert [s["type"] for s in world.whatsapp.sent] == ["image"]


async def test_a_link_to_a_customer_post_makes_a_whatsapp_reply_without_the_link(
    world: World,
) -> None:
    thread = await _open(world)
    post = next(p.ts for p in world.chat.posts if p.text == "My parcel is late")
    await _queue(world, thread, "It left today", quote=Quote(slack_ts=post, rest="It left today"))
    assert world.whatsapp.sent[-1] == {
        "phone_number_id": world.whatsapp.sent[-1]["phone_number_id"],
        "to": "4915112345678",
        "text": "It left today",
        "reply_to": "wamid.1",
    }


async def test_a_quote_of_the_customers_words_makes_a_whatsapp_reply(world: World) -> None:
    thread = await _open(world)
    quote = Quote(text="my parcel  is late", rest="Sorry! It left today")
    await _queue(world, thread, "> my parcel is late\nSorry! It left today", quote=quote)
    assert world.whatsapp.sent[-1]["text"] == "Sorry! It left today"
    assert world.whatsapp.sent[-1]["reply_to"] == "wamid.1"


async def test_a_quote_of_something_else_is_sent_as_written(world: World) -> None:
    thread = await _open(world)
    quote = Quote(text="our terms say", rest="30 days")
    await _queue(world, thread, "> our terms say\n30 days", quote=quote)
    assert world.whatsapp.sent[-1]["text"] == "> our terms say\n30 days"
    assert "reply_to" not in world.whatsapp.sent[-1]


async def _conversation_id(world: World) -> int:
    async with world.uow() as uow:
        [conversation] = await uow.conversations.list_recent(limit=1, offset=0)
    return conversation.id


def _reactions(world: World) -> AgentReactions:
    return AgentReactions(uow=world.uow, clock=world.clock, settle=timedelta(0))


async def _react(world: World, post: str, emoji: str | None, *, added: bool = True) -> object:
    outcome = await _reactions(world).react(
        channel=CHANNEL,
        ts=post,
        user="U1",
        emoji=emoji,
        added=added,
        reacted_at=world.clock.now(),
        event_id=None,
    )
    await world.drain()
    world.clock.advance(seconds=1)
    return outcome


async def test_an_agents_reaction_reaches_the_customer_and_its_removal_takes_it_back(
    world: World,
) -> None:
    await _open(world)
    post = next(p.ts for p in world.chat.posts if p.text == "My parcel is late")
    assert await _react(world, post, "👍") == ReactionOutcome.QUEUED
    assert await _react(world, post, "🙏") == ReactionOutcome.QUEUED
    # Taking back 👍 changes nothing: the customer sees 🙏 now.
    assert await _react(world, post, "👍", added=False) == ReactionOutcome.IGNORED
    assert await _react(world, post, "🙏", added=False) == ReactionOutcome.QUEUED
    reactions = [(s["message_id"], s["emoji"]) for s in world.whatsapp.sent]
    assert reactions == [("wamid.1", "👍"), ("wamid.1", "🙏"), ("wamid.1", "")]
    assert world.chat.reactions == {}  # a reaction has no delivery marks of its own


async def test_a_reaction_taken_back_before_it_went_out_is_taken_back_on_whatsapp(
    world: World,
) -> None:
    await _open(world)
    post = next(p.ts for p in world.chat.posts if p.text == "My parcel is late")
    reactions = _reactions(world)
    for emoji, added in (("👍", True), ("🙏", True), ("🙏", False)):
        outcome = await reactions.react(
            channel=CHANNEL,
            ts=post,
            user="U1",
            emoji=emoji,
            added=added,
            reacted_at=world.clock.now(),
            event_id=None,
        )
        assert outcome == ReactionOutcome.QUEUED
        world.clock.advance(seconds=1)
    await world.drain()  # nothing went out until now
    reactions_sent = [(s["message_id"], s["emoji"]) for s in world.whatsapp.sent]
    assert reactions_sent == [("wamid.1", "👍"), ("wamid.1", "🙏"), ("wamid.1", "")]
    # The customer sees none now: taking back 👍 too changes nothing.
    assert await _react(world, post, "👍", added=False) == ReactionOutcome.IGNORED


async def test_a_removal_handled_before_its_add_leaves_the_customer_without_it(
    world: World,
) -> None:
    # Slack's two events, a moment apart, handled in the wrong order by two listeners.
    await _open(world)
    post = next(p.ts for p in world.chat.posts if p.text == "My parcel is late")
    reactions = _reactions(world)
    added_at = world.clock.now()
    removed_at = added_at + timedelta(milliseconds=300)
    late = [
        await reactions.react(
            channel=CHANNEL,
            ts=post,
            user="U1",
            emoji="🙏",
            added=added,
            reacted_at=at,
            event_id=None,
        )
        for added, at in ((False, removed_at), (True, added_at))
    ]
    await world.drain()
    assert late == [ReactionOutcome.IGNORED, ReactionOutcome.IGNORED]
    assert world.whatsapp.sent == []
    # A later reaction goes out as usual.
    world.clock.advance(seconds=1)
    assert await _react(world, post, "👍") == ReactionOutcome.QUEUED
    assert [s["emoji"] for s in world.whatsapp.sent] == ["👍"]


async def test_reactions_elsewhere_are_not_sent(world: World) -> None:
    thread = await _open(world)
    assert await _react(world, thread, "👍") == ReactionOutcome.IGNORED  # the parent
    reply = await world.reply(thread, "On its way")
    assert reply.slack_ts is not None
    assert await _react(world, reply.slack_ts, "👍") == ReactionOutcome.IGNORED
    assert [s.get("type", "text") for s in world.whatsapp.sent] == ["text"]


async def test_a_reaction_outside_the_window_or_a_custom_emoji_is_explained(
    world: World,
) -> None:
    thread = await _open(world)
    post = next(p.ts for p in world.chat.posts if p.text == "My parcel is late")
    assert await _react(world, post, None) == ReactionOutcome.REFUSED
    world.clock.advance(hours=25)
    assert await _react(world, post, "👍") == ReactionOutcome.REFUSED
    assert world.whatsapp.sent == []
    notices = [t for t in world.chat.thread(thread) if t.startswith("notice:")]
    assert notices == [f"notice:{NoticeKind.REACTION_NOT_SENT.value}:None"] * 2


async def test_a_reaction_meta_refuses_is_explained(world: World) -> None:
    thread = await _open(world)
    post = next(p.ts for p in world.chat.posts if p.text == "My parcel is late")
    world.whatsapp.fail_next.append(meta_error(131052))
    await _react(world, post, "👍")
    assert world.chat.thread(thread)[-1] == f"notice:{NoticeKind.REACTION_NOT_SENT.value}:131052"
