"""Every word an agent reads in Slack, and the Block Kit around it, in one package."""

from slack_app.messages.account import operator_notice_text
from slack_app.messages.commands import HELP_TEXT, unknown_subcommand
from slack_app.messages.conversations import (
    agent_message_text,
    customer_message_text,
    escape,
    thread_parent_text,
)
from slack_app.messages.delivery import STAGE_REACTIONS
from slack_app.messages.notices import notice_actions, notice_text, offers_templates
from slack_app.messages.problems import advice

__all__ = [
    "HELP_TEXT",
    "STAGE_REACTIONS",
    "advice",
    "agent_message_text",
    "customer_message_text",
    "escape",
    "notice_actions",
    "notice_text",
    "offers_templates",
    "operator_notice_text",
    "thread_parent_text",
    "unknown_subcommand",
]
