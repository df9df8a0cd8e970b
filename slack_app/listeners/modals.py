"""The template modal: opened from the shortcut or a "Send template" button, filled in with
a live preview, checked inline, and sent through the same job rules as replies."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.domain import MessageTemplate
from bridge.usecases.templates import SendOutcome
from slack_app.ids import (
    OPEN_TEMPLATE_MODAL,
    SEND_TEMPLATE_SHORTCUT,
    TEMPLATE_BLOCK,
    TEMPLATE_MODAL,
    TEMPLATE_PICK,
    VALUE_ACTION,
    VALUE_BLOCK_PREFIX,
)
from slack_app.listeners import ListenerDeps
from slack_app.messages import commands as command_words
from slack_app.messages import templates as words

__all__ = ["modal_values", "register"]

log = logging.getLogger(__name__)


def modal_values(view: dict[str, Any]) -> dict[str, str]:
    """The values typed into the modal's inputs, by placeholder key."""
    state = (view.get("state") or {}).get("values") or {}
    values: dict[str, str] = {}
    for block_id, actions in state.items():
        if block_id.startswith(VALUE_BLOCK_PREFIX):
            value = (actions.get(VALUE_ACTION) or {}).get("value")
            values[block_id.removeprefix(VALUE_BLOCK_PREFIX)] = str(value or "")
    return values


def _picked(view: dict[str, Any]) -> str | None:
    state = (view.get("state") or {}).get("values") or {}
    selected = ((state.get(TEMPLATE_BLOCK) or {}).get(TEMPLATE_PICK) or {}).get("selected_option")
    return str(selected["value"]) if isinstance(selected, dict) else None


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    picker = deps.template_picker

    async def open_modal(client: AsyncWebClient, trigger_id: str, conversation_id: int) -> bool:
        if picker is None:
            return False
        conversation = await picker.conversation(conversation_id)
        if conversation is None:
            return False
        view = words.template_modal(
            conversation=conversation, now=deps.clock(), template=None, values={}
        )
        await client.views_open(trigger_id=trigger_id, view=view)
        return True

    async def refresh(client: AsyncWebClient, view: dict[str, Any], choice: str | None) -> None:
        """Rebuild the open modal for the chosen template, keeping what was typed."""
        if picker is None:
            return
        state = words.ModalState.load(str(view.get("private_metadata") or ""))
        conversation = await picker.conversation(state.conversation_id)
        if conversation is None:
            return
        template = await picker.template(choice, conversation) if choice else None
        updated = words.template_modal(
            conversation=conversation,
            now=deps.clock(),
            template=template,
            values=modal_values(view),
        )
        try:
            await client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
        except SlackApiError as error:
            # A newer keystroke already updated it: that update carries the latest values.
            if error.response.get("error") != "hash_conflict":
                raise

    @app.shortcut(SEND_TEMPLATE_SHORTCUT)
    @deps.activity.track
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
        conversation = (
            await picker.conversation_of_thread(channel=channel, thread_ts=thread_ts)
            if picker is not None
            else None
        )
        if conversation is not None and await open_modal(
            client, str(body.get("trigger_id") or ""), conversation.id
        ):
            return
        text = (
            words.NOT_A_CONVERSATION
            if picker is not None
            else command_words.NO_TEMPLATES_CONFIGURED
        )
        user = str((body.get("user") or {}).get("id") or "")
        if not channel or not user:
            log.warning("shortcut without its channel or user; nobody to tell")
            return
        await client.chat_postEphemeral(channel=channel, user=user, text=text)

    @app.action(OPEN_TEMPLATE_MODAL)
    @deps.activity.track
    async def on_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = str(body["actions"][0].get("value") or "")
        trigger = str(body.get("trigger_id") or "")
        if not value.isdigit() or not await open_modal(client, trigger, int(value)):
            log.warning("template modal not opened", extra={"value": value})

    @app.options(TEMPLATE_PICK)
    @deps.activity.track
    async def on_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        if picker is None:
            await ack(options=[])
            return
        state = words.ModalState.load(str((body.get("view") or {}).get("private_metadata") or ""))
        conversation = await picker.conversation(state.conversation_id)
        if conversation is None:
            await ack(options=[])
            return
        choices = await picker.choices(conversation, str(body.get("value") or ""))
        await ack(**words.template_options(choices))

    @app.action(TEMPLATE_PICK)
    @deps.activity.track
    async def on_pick(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view") or {}
        await refresh(client, view, _picked(view))

    @app.action(VALUE_ACTION)
    @deps.activity.track
    async def on_typing(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view") or {}
        state = words.ModalState.load(str(view.get("private_metadata") or ""))
        await refresh(client, view, _picked(view) or state.choice)

    @app.view(TEMPLATE_MODAL)
    @deps.activity.track
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        if picker is None or deps.template_messages is None:
            await ack()
            return
        state = words.ModalState.load(str(view.get("private_metadata") or ""))
        choice = _picked(view) or state.choice
        conversation = await picker.conversation(state.conversation_id)
        template: MessageTemplate | None = (
            await picker.template(choice, conversation) if choice and conversation else None
        )
        if conversation is None or choice is None:
            await ack(response_action="errors", errors=words.NO_TEMPLATE_CHOSEN)
            return
        if template is None:
            await ack(response_action="errors", errors=words.TEMPLATE_GONE)
            return
        values = modal_values(view)
        problems = template.problems(values)
        if problems:
            await ack(response_action="errors", errors=words.value_errors(problems))
            return
        result = await deps.template_messages.send(
            to=conversation.contact_id,
            name=template.name,
            language=template.language,
            author=str((body.get("user") or {}).get("id") or "") or None,
            values=values,
            phone_number_id=conversation.phone_number_id,
        )
        if result.outcome != SendOutcome.QUEUED:
            await ack(response_action="errors", errors=words.TEMPLATE_GONE)
            return
        await ack()  # closes the modal; the thread shows the message and its delivery
