"""The message shortcut "Send WhatsApp template" (its modal arrives with the templates work)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from slack_app.ids import SEND_TEMPLATE_SHORTCUT
from slack_app.listeners import ListenerDeps
from slack_app.messages import SHORTCUT_NOT_YET

__all__ = ["register"]


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    @app.shortcut(SEND_TEMPLATE_SHORTCUT)
    @deps.activity.track
    async def on_send_template(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        await respond(text=SHORTCUT_NOT_YET, response_type="ephemeral", replace_original=False)
