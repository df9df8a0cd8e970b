"""The "Retry" and "Send again" buttons of a failure notice: a new send of the failed
message, once however many times it is clicked, and the button gives way to who did it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.usecases.resends import Resends
from slack_app.ids import RETRY_SEND, SEND_AGAIN
from slack_app.listeners import ListenerDeps
from slack_app.messages import resends as words

__all__ = ["register", "resend_clicked"]

log = logging.getLogger(__name__)


async def resend_clicked(body: dict[str, Any], client: AsyncWebClient, resends: Resends) -> None:
    """Send the failed message the button names again, then replace the button on the
    notice with a line saying who did (the click is acked before this runs)."""
    value = str(body["actions"][0].get("value") or "")
    user = str((body.get("user") or {}).get("id") or "")
    if not value.isdigit():
        log.warning("resend button without a message id", extra={"value": value})
        return
    result = await resends.resend(message_id=int(value), user=user)
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    ts = str(message.get("ts") or container.get("message_ts") or "")
    if not channel or not ts:
        return
    line = words.resend_line(result, user=user)
    text = str(message.get("text") or line)
    try:
        await client.chat_update(
            channel=channel,
            ts=ts,
            text=text,
            blocks=words.after_resend(message.get("blocks"), text, line),
        )
    except SlackApiError as error:
        # The send is queued whatever happens to the button; a second click sends nothing.
        log.warning(
            "notice not updated after a resend",
            extra={"message_id": value, "error": error.response.get("error")},
        )


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    resends = deps.resends

    @deps.activity.track
    async def on_click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if resends is not None:
            await resend_clicked(body, client, resends)

    for action_id in (RETRY_SEND, SEND_AGAIN):
        app.action(action_id)(on_click)
