"""A conversation in Slack: its thread's parent post, and the customer's messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from bridge.ports import AgentMessageView, ContactView
from slack_app.messages.customer import customer_message_text, escape

__all__ = [
    "agent_message_text",
    "customer_message_text",
    "escape",
    "thread_parent_text",
    "window_line",
]


def _number(value: str) -> str:
    return f"+{value}" if value.isdigit() else value


def _left(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes < 600 else f"{minutes // 60} h"


def window_line(expires_at: datetime | None, now: datetime) -> str:
    """Where the customer-service window stands, in one line."""
    if expires_at is None:
        return ":white_circle: No window yet: only approved templates until the customer writes."
    if now < expires_at:
        return (
            f":large_green_circle: Window open until {expires_at:%H:%M} UTC "
            f"({_left(expires_at - now)} left): replies go out as they are."
        )
    return ":red_circle: Window closed: templates only, until the customer writes again."


def thread_parent_text(contact: ContactView, *, now: datetime) -> str:
    who = escape(contact.name) if contact.name else "A customer"
    return (
        f":speech_balloon: *{who}* ({_number(contact.contact_id)}) on WhatsApp, "
        f"number {_number(contact.business_number)}. Reply in this thread to answer.\n"
        + window_line(contact.window_expires_at, now)
    )


def agent_message_text(message: AgentMessageView) -> str:
    """A template an agent sent from outside the thread, as the customer will read it."""
    who = f"<@{message.author}>" if message.author else "An agent"
    what = (
        f"template `{escape(message.template)}`"
        + (f" ({escape(message.language)})" if message.language else "")
        if message.template
        else "a message"
    )
    quoted = "\n".join(f"> {line}" for line in escape(message.text).splitlines() or [""])
    return f":outbox_tray: {who} sent {what}:\n{quoted}"
