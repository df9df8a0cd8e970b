"""The template modal and the "Send template" button: Block Kit, and every word in them.

The modal carries its context in ``private_metadata`` (the conversation, the chosen
template), so each request Slack sends about it is understood on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bridge.domain import MessageTemplate, Placeholder, ValueProblem
from bridge.ports import ConversationRecord
from bridge.usecases.templates import Choices
from slack_app.ids import (
    OPEN_TEMPLATE_MODAL,
    TEMPLATE_BLOCK,
    TEMPLATE_MODAL,
    TEMPLATE_PICK,
    VALUE_ACTION,
    VALUE_BLOCK_PREFIX,
)
from slack_app.messages.conversations import escape, window_line

__all__ = [
    "NOT_A_CONVERSATION",
    "ModalState",
    "choice_of",
    "send_template_button",
    "template_modal",
    "template_options",
    "value_errors",
]

NOT_A_CONVERSATION = (
    "This shortcut works on the posts of a WhatsApp conversation's thread in the support channel."
)
#: Slack's limit on an option's text.
_OPTION_TEXT = 75


def send_template_button(conversation_id: int) -> dict[str, Any]:
    """An actions block with the button that opens the template modal."""
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": OPEN_TEMPLATE_MODAL,
                "text": {"type": "plain_text", "text": "Send template", "emoji": True},
                "value": str(conversation_id),
            }
        ],
    }


def choice_of(template: MessageTemplate) -> str:
    """A picker option's value: ``name:language``."""
    return f"{template.name}:{template.language}"


def _option(template: MessageTemplate) -> dict[str, Any]:
    label = f"{template.name} ({template.language})"
    return {
        "text": {"type": "plain_text", "text": label[:_OPTION_TEXT]},
        "description": {"type": "plain_text", "text": template.body_text[:_OPTION_TEXT] or " "},
        "value": choice_of(template),
    }


def template_options(choices: Choices) -> dict[str, Any]:
    """The answer to the picker's options request: suggestions first, then the rest."""
    groups = []
    if choices.suggested:
        groups.append(
            {
                "label": {"type": "plain_text", "text": "Suggested"},
                "options": [_option(t) for t in choices.suggested],
            }
        )
    if choices.others:
        groups.append(
            {
                "label": {"type": "plain_text", "text": "All approved"},
                "options": [_option(t) for t in choices.others[:100]],
            }
        )
    return {"option_groups": groups} if groups else {"options": []}


_PART_LABEL = {"header": "Header", "body": "Body", "button": "Link button"}


def _label(p: Placeholder) -> str:
    if p.is_media:
        return "Header media link (https://…)"
    return f"{_PART_LABEL[p.part.value]} {{{{{p.name}}}}}"


class ModalState:
    """What the modal knows between requests, kept in its ``private_metadata``."""

    def __init__(self, conversation_id: int, choice: str | None = None) -> None:
        self.conversation_id = conversation_id
        self.choice = choice

    def dump(self) -> str:
        return json.dumps({"conversation": self.conversation_id, "template": self.choice})

    @classmethod
    def load(cls, metadata: str) -> ModalState:
        """The state ``dump`` wrote; metadata missing or not ours reads as conversation 0,
        which none has, so the modal's listeners answer "not found" instead of failing."""
        try:
            data = json.loads(metadata or "{}")
            choice = data.get("template")
            return cls(int(data["conversation"]), choice if isinstance(choice, str) else None)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(0)


def template_modal(
    *,
    conversation: ConversationRecord,
    now: datetime,
    template: MessageTemplate | None,
    values: Mapping[str, str],
) -> dict[str, Any]:
    """The modal: who it goes to, the picker, an input per placeholder, and a live preview."""
    who = escape(conversation.contact_name) if conversation.contact_name else "the customer"
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"To *{who}* (+{escape(conversation.contact_id)}). "
                    + window_line(conversation.window_expires_at, now),
                }
            ],
        },
        {
            "type": "input",
            "block_id": TEMPLATE_BLOCK,
            "dispatch_action": True,
            "label": {"type": "plain_text", "text": "Approved template"},
            "element": {
                "type": "external_select",
                "action_id": TEMPLATE_PICK,
                "placeholder": {"type": "plain_text", "text": "Choose or type to search"},
                "min_query_length": 0,
                **({"initial_option": _option(template)} if template else {}),
            },
        },
    ]
    if template is not None:
        for p in template.placeholders:
            element: dict[str, Any] = {
                "type": "plain_text_input",
                "action_id": VALUE_ACTION,
                "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]},
            }
            if p.example:
                element["placeholder"] = {"type": "plain_text", "text": f"e.g. {p.example}"[:150]}
            if values.get(p.key):
                element["initial_value"] = values[p.key]
            blocks.append(
                {
                    "type": "input",
                    "block_id": VALUE_BLOCK_PREFIX + p.key,
                    "dispatch_action": True,
                    "label": {"type": "plain_text", "text": _label(p)},
                    "element": element,
                }
            )
        preview = escape(template.render(values)).replace("\n", "\n>")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Preview*\n>{preview}"}}
        )
    return {
        "type": "modal",
        "callback_id": TEMPLATE_MODAL,
        "private_metadata": ModalState(
            conversation.id, choice_of(template) if template else None
        ).dump(),
        "title": {"type": "plain_text", "text": "Send WhatsApp template"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


_PROBLEMS = {
    ValueProblem.MISSING: "Fill this in: the template needs it.",
    ValueProblem.NOT_HTTPS: "Give a link that starts with https://",
    ValueProblem.TOO_LONG: "WhatsApp allows 1,024 characters here.",
}


def value_errors(problems: Mapping[str, ValueProblem]) -> dict[str, str]:
    """Inline errors for the modal's inputs, by block."""
    return {VALUE_BLOCK_PREFIX + key: _PROBLEMS[problem] for key, problem in problems.items()}


NO_TEMPLATE_CHOSEN = {TEMPLATE_BLOCK: "Choose an approved template."}
TEMPLATE_GONE = {TEMPLATE_BLOCK: "This template cannot be sent any more: choose another."}
