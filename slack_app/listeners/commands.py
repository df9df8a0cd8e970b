"""``/wa``: every answer is ephemeral."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from slack_app.ids import COMMAND
from slack_app.listeners import ListenerDeps
from slack_app.messages import HELP_TEXT, unknown_subcommand

__all__ = ["register"]


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    @app.command(COMMAND)
    @deps.activity.track
    async def on_wa(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        words = str(command.get("text") or "").split()
        if not words or words[0] == "help":
            await respond(text=HELP_TEXT, response_type="ephemeral")
            return
        await respond(text=unknown_subcommand(words[0]), response_type="ephemeral")
