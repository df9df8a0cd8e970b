"""Agents' replies in a conversation's thread, on their way to the customer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bridge.usecases.replies import AgentFile, Quote
from slack_app.listeners import ListenerDeps
from slack_app.quotes import find_pointer
from slack_app.text import slack_to_whatsapp, unicode_emoji

__all__ = [
    "a_bots_post",
    "agent_delete",
    "agent_edit",
    "agent_files",
    "is_agent_reply",
    "posted_at",
    "register",
]

log = logging.getLogger(__name__)

# Subtypes of a human's message that are still that human speaking (or sharing a file).
_HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share")


def is_agent_reply(event: dict[str, Any], *, note_prefix: str) -> bool:
    """Whether a message event is a human's reply in a thread that should reach the customer."""
    if event.get("bot_id") or event.get("subtype") not in _HUMAN_SUBTYPES:
        return False
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not thread_ts or not ts or thread_ts == ts or not event.get("user"):
        return False
    text = str(event.get("text") or "")
    if text.lstrip().startswith(note_prefix):
        return False
    return bool(text.strip()) or bool(agent_files(event))


def agent_files(event: dict[str, Any]) -> list[AgentFile]:
    """The files a message shares; one the bridge cannot fetch says why (``unavailable``)."""
    files: list[AgentFile] = []
    for file in event.get("files") or ():
        if not isinstance(file, dict) or not file.get("id"):
            continue
        name = str(file.get("name") or file.get("title") or "file")
        url = file.get("url_private_download") or file.get("url_private")
        files.append(
            AgentFile(
                id=str(file["id"]),
                name=name,
                mime_type=str(file.get("mimetype") or "application/octet-stream"),
                size=_size(file.get("size")),
                url=url if isinstance(url, str) else "",
                unavailable=_unavailable(file, name, url),
            )
        )
    return files


def _size(value: object) -> int:
    """A file's size as Slack gave it (0 when it gave none a number could be made of)."""
    if isinstance(value, int | float | str):
        try:
            return max(0, int(value))
        except (ValueError, OverflowError):  # "12 KB", 1e400 (infinite), NaN
            pass
    return 0


def _unavailable(file: dict[str, Any], name: str, url: object) -> str | None:
    """Why the bridge cannot fetch a shared file, in words for the agent (None: it can)."""
    if file.get("mode") == "external":
        return (
            f"{name} is a link to a file kept outside Slack, which the bridge cannot fetch. "
            "Upload the file itself, or paste its link in your reply."
        )
    if file.get("mode") == "tombstone":
        return f"{name} was deleted before it could be sent."
    if not isinstance(url, str) or not url:
        return (
            f"Slack does not let the bridge fetch {name} (hidden by the workspace's plan or "
            "its settings). Upload it again, or paste a link in your reply."
        )
    return None


def _human_in_a_thread(message: dict[str, Any]) -> bool:
    thread_ts, ts = message.get("thread_ts"), message.get("ts")
    return bool(
        not message.get("bot_id") and message.get("user") and thread_ts and ts and thread_ts != ts
    )


def agent_edit(event: dict[str, Any], *, note_prefix: str) -> dict[str, Any] | None:
    """The edited message, if the event is a human editing the text of a thread reply."""
    if event.get("subtype") != "message_changed":
        return None
    message, previous = event.get("message") or {}, event.get("previous_message") or {}
    if not _human_in_a_thread(message) or message.get("text") == previous.get("text"):
        return None  # someone else's change, or Slack unfurling a link (same text)
    if str(previous.get("text") or "").lstrip().startswith(note_prefix):
        return None  # a note stays a note
    return dict(message)


def agent_delete(event: dict[str, Any]) -> dict[str, Any] | None:
    """The deleted message, if the event is a human deleting a thread reply."""
    if event.get("subtype") != "message_deleted":
        return None
    previous = event.get("previous_message") or {}
    return dict(previous) if _human_in_a_thread(previous) else None


def posted_at(ts: str) -> datetime:
    """When Slack says a message was posted: its ``ts`` is seconds.micros since the epoch."""
    try:
        seconds = Decimal(ts)
    except InvalidOperation:
        raise ValueError(f"not a Slack timestamp: {ts!r}") from None
    whole = int(seconds)
    return datetime.fromtimestamp(whole, UTC).replace(
        microsecond=int((seconds - whole) * 1_000_000)
    )


def a_bots_post(payload: object) -> bool:
    """Whether a request's payload is the event of a message a bot posted, which every
    listener here passes by: an agent's reply is never a bot's, and edits and deletions are
    looked at in the message they carry. The bridge's own posts come back from Slack as
    these, one for each post."""
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return False
    event = payload.get("event")
    return (
        isinstance(event, dict)
        and event.get("type") == "message"
        and bool(event.get("bot_id"))
        and event.get("subtype") not in ("message_changed", "message_deleted")
    )


#: The events whose work is done before Slack hears 200 (see ``register``).
TAKEN_BEFORE_THE_ACK: Final = ("message", "reaction_added", "reaction_removed")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """Agents' replies, edits, deletions and reactions. They are taken in a middleware, before
    the ack: bolt acks an event before its listener runs, and Slack never sends an acked event
    again, so a crash (or a database error) in between would lose the reply. Taken first, a
    failure answers 500 and Slack retries; a retry of a reply already taken is a duplicate."""

    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        if (edited := agent_edit(event, note_prefix=deps.note_prefix)) is not None:
            text = await slack_to_whatsapp(str(edited.get("text") or ""), users=deps.users)
            await deps.changes.edit(
                channel=channel,
                slack_ts=str(edited["ts"]),
                text=text,
                event_id=body.get("event_id"),
            )
            return
        if (deleted := agent_delete(event)) is not None:
            await deps.changes.delete(
                channel=channel, slack_ts=str(deleted["ts"]), event_id=body.get("event_id")
            )
            return
        if not is_agent_reply(event, note_prefix=deps.note_prefix):
            return
        raw = str(event.get("text") or "")
        text = await slack_to_whatsapp(raw, users=deps.users)
        quote = None
        if (pointer := find_pointer(raw, channel=channel)) is not None:
            quote = Quote(
                slack_ts=pointer.slack_ts,
                text=(
                    await slack_to_whatsapp(pointer.quoted, users=deps.users)
                    if pointer.quoted
                    else None
                ),
                rest=await slack_to_whatsapp(pointer.rest, users=deps.users),
            )
        await deps.replies.queue(
            channel=channel,
            thread_ts=str(event["thread_ts"]),
            slack_ts=str(event["ts"]),
            posted_at=posted_at(str(event["ts"])),
            user=str(event["user"]),
            text=text,
            event_id=body.get("event_id"),
            files=agent_files(event),
            quote=quote,
            others_arriving=lambda: deps.activity.running > 1,
        )

    async def on_reaction(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, added: bool
    ) -> None:
        item = event.get("item") or {}
        user = str(event.get("user") or "")
        if item.get("type") != "message" or not user or user == context.bot_user_id:
            return  # the bridge's own reactions (statuses, the customer's) are not sent
        if not item.get("channel") or not item.get("ts"):
            log.warning("reaction without the message it is on; ignored")
            return
        if deps.reactions is None:
            return
        name = str(event.get("reaction") or "")
        await deps.reactions.react(
            channel=str(item.get("channel") or ""),
            ts=str(item.get("ts") or ""),
            user=user,
            emoji=unicode_emoji(name),
            added=added,
            reacted_at=posted_at(str(event.get("event_ts") or item["ts"])),
            event_id=body.get("event_id"),
            others_arriving=lambda: deps.activity.running > 1,
        )

    @app.middleware
    @deps.activity.track
    async def take_before_the_ack(
        body: dict[str, Any], context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event = body.get("event") if body.get("type") == "event_callback" else None
        kind = event.get("type") if isinstance(event, dict) else None
        if isinstance(event, dict) and kind in TAKEN_BEFORE_THE_ACK:
            if kind == "message":
                await on_message(event, body)
            else:
                await on_reaction(event, body, context, added=kind == "reaction_added")
            # Taken: Slack hears 200 now. Past bolt's listeners (matching every one, and a
            # task for an empty one), which ran while the reply's send was under way.
            return BoltResponse(status=200, body="")
        await next_()
        return None
