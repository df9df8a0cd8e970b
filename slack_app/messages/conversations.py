"""A conversation in Slack: its thread's parent post, and the customer's messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

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


def window_line(expires_at: datetime | None, now: datetime, *, lasting: bool = False) -> str:
    """Where the customer-service window stands, in one line. ``lasting``: for a message
    read for hours without being redrawn (the thread's parent), which says when the window
    closes, in each reader's own time zone (Slack's date token), not how long is left."""
    if expires_at is None:
        return ":white_circle: No window yet: only approved templates until the customer writes."
    if now < expires_at:
        until = (
            f"<!date^{int(expires_at.timestamp())}^{{date_short_pretty}} at {{time}}"
            f"|{expires_at:%b %d, %H:%M} UTC>"
            if lasting
            else f"{expires_at:%H:%M} UTC ({_left(expires_at - now)} left)"
        )
        return f":large_green_circle: Window open until {until}: replies go out as they are."
    return ":red_circle: Window closed: templates only, until the customer writes again."


def thread_parent_text(contact: ContactView, *, now: datetime) -> str:
    who = escape(contact.name) if contact.name else "A customer"
    return (
        f":speech_balloon: *{who}* ({_number(contact.contact_id)}) on WhatsApp, "
        f"number {_number(contact.business_number)}. Reply in this thread to answer.\n"
        + window_line(contact.window_expires_at, now, lasting=True)
    )


#: What a message sent through the REST API is, by type.
_API_KINDS: Final = {
    "text": "a message",
    "image": "an image",
    "video": "a video",
    "audio": "an audio clip",
    "document": "a document",
    "sticker": "a sticker",
    "location": "a location",
}


def _what(message: AgentMessageView) -> str:
    if message.template:
        language = f" ({escape(message.language)})" if message.language else ""
        return f"template `{escape(message.template)}`{language}"
    if not message.via_api:
        return "a message"
    return _API_KINDS.get(message.message_type, f"a `{escape(message.message_type)}` message")


def _api_details(message: AgentMessageView) -> list[str]:
    """The parts of a media or location message that its text does not say."""
    content = message.content
    shown = [
        f"{label}: {escape(str(value))}"
        for label, key in (("file", "filename"), ("link", "url"), ("media id", "media_id"))
        if (value := content.get(key))
    ]
    if message.message_type == "location":
        place = ", ".join(escape(str(content[k])) for k in ("name", "address") if content.get(k))
        where = f"{content.get('latitude')}, {content.get('longitude')}"
        shown.append(f"{place} ({where})" if place else where)
    return shown


def agent_message_text(message: AgentMessageView) -> str:
    """A message sent from outside the thread (an agent's template, or a message sent
    through the REST API), as the customer will read it."""
    quoted = "\n".join(f"> {line}" for line in escape(message.text).splitlines() or [""])
    if message.via_api:
        details = "".join(f"\n{line}" for line in _api_details(message))
        text = f"\n{quoted}" if message.text else ""
        return f":outbox_tray: Sent through the API: {_what(message)}{details}{text}"
    who = f"<@{message.author}>" if message.author else "An agent"
    return f":outbox_tray: {who} sent {_what(message)}:\n{quoted}"
