"""The slack-bolt app: listeners that ack, translate, and call the core."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond

from bridge.relay import Relay

__all__ = ["HELP_TEXT", "build_app", "is_agent_reply"]

log = logging.getLogger(__name__)

HELP_TEXT = (
    "*wabridge* keeps each WhatsApp conversation in a thread of this channel.\n"
    "• Reply in a thread to answer the customer (inside the 24-hour window).\n"
    "• Start a reply with the note prefix to keep it internal.\n"
    "• `/wa help`: this help."
)


def is_agent_reply(event: dict[str, Any], *, note_prefix: str) -> bool:
    """Whether a message event is a human's reply in a thread that should reach the customer."""
    if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
        return False
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts") or not event.get("user"):
        return False
    text = str(event.get("text") or "")
    return bool(text.strip()) and not text.lstrip().startswith(note_prefix)


def build_app(
    *,
    token: str,
    base_url: str,
    signing_secret: str,
    relay: Relay,
    note_prefix: str,
) -> AsyncApp:
    """The bolt app with every listener registered; the web layer mounts its handler.

    Its ``client`` is the one Slack Web API client of the process.
    """
    app = AsyncApp(token=token, signing_secret=signing_secret, logger=log)
    # Bolt builds its client for slack.com; the API root is ours to choose (the simulator).
    app.client.base_url = base_url
    # Below the outbox lease, so a slow call never outlives its claim.
    app.client.timeout = 10

    @app.event("message")
    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        if not is_agent_reply(event, note_prefix=note_prefix):
            return
        result = await relay.send_reply(
            channel=str(event["channel"]),
            thread_ts=str(event["thread_ts"]),
            slack_ts=str(event["ts"]),
            user=str(event["user"]),
            text=str(event["text"]),
            event_id=body.get("event_id"),
        )
        log.info(
            "agent reply handled",
            extra={
                "outcome": result.outcome.value,
                "message_id": result.message_id,
                "slack_ts": event["ts"],
            },
        )

    @app.command("/wa")
    async def on_wa(ack: Any, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        words = str(command.get("text") or "").split()
        if not words or words[0] == "help":
            await respond(text=HELP_TEXT, response_type="ephemeral")
            return
        await respond(
            text=f"`/wa {words[0]}` is not available yet. Try `/wa help`.",
            response_type="ephemeral",
        )

    return app
