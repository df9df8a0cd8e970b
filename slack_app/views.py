"""What the bridge says in Slack: the words and Block Kit of every post, in one place."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridge.domain import MessageStatus
from bridge.ports import ContactView, CustomerMessageView, Notice

__all__ = [
    "STAGE_REACTIONS",
    "customer_message_text",
    "escape",
    "notice_text",
    "post_metadata",
    "thread_parent_text",
]

#: One reaction per delivery stage reached, on the agent's own message.
STAGE_REACTIONS: dict[MessageStatus, str] = {
    MessageStatus.SENT: "heavy_check_mark",
    MessageStatus.DELIVERED: "mailbox_with_mail",
    MessageStatus.READ: "eyes",
    MessageStatus.FAILED: "x",
}


def escape(text: str) -> str:
    """Slack's three control characters, so customer text never becomes a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value: str) -> str:
    return f"+{value}" if value.isdigit() else value


def thread_parent_text(contact: ContactView) -> str:
    who = escape(contact.name) if contact.name else "A customer"
    return (
        f":speech_balloon: *{who}* ({_number(contact.contact_id)}) wrote on WhatsApp "
        f"to {_number(contact.business_number)}. Reply in this thread to answer."
    )


def _describe(message: CustomerMessageView) -> str:
    content = message.content
    kind = message.message_type
    if kind == "location":
        name = content.get("name") or "a location"
        where = f"{content.get('latitude')}, {content.get('longitude')}"
        return f":round_pushpin: Shared {escape(str(name))}: {where}"
    if kind == "reaction":
        return f"Reacted {content.get('emoji') or '(removed a reaction)'}"
    if kind == "contacts":
        names = [
            str(c.get("name", {}).get("formatted_name", "a contact"))
            for c in content.get("contacts", [])
            if isinstance(c, dict)
        ]
        return ":bust_in_silhouette: Shared contact: " + escape(", ".join(names) or "a contact")
    label = {"image": ":frame_with_picture: Image", "video": ":film_frames: Video"}.get(
        kind, f":paperclip: {kind.capitalize()}"
    )
    if kind in {"image", "video", "audio", "voice", "document", "sticker"}:
        caption = f": {escape(message.text)}" if message.text else ""
        return f"{label}{caption} _(files arrive in a later version)_"
    summary = json.dumps({k: v for k, v in content.items() if k != "text"}, default=str)[:300]
    return (
        f":grey_question: The customer sent a *{escape(kind)}* message "
        f"wabridge cannot show yet: `{summary}`"
    )


def customer_message_text(message: CustomerMessageView) -> str:
    if message.message_type == "text" and message.text is not None:
        return escape(message.text)
    if message.message_type in {"button", "interactive"} and message.text:
        return f":radio_button: {escape(message.text)}"
    return _describe(message)


def _ago(expired: datetime | None, now: datetime) -> str:
    if expired is None:
        return "The customer has not written yet, so"
    minutes = int((now - expired).total_seconds() // 60)
    if minutes < 60:
        span = f"{max(minutes, 1)} min"
    elif minutes < 48 * 60:
        span = f"{minutes // 60} h"
    else:
        span = f"{minutes // 1440} days"
    return f"The 24-hour window closed {span} ago, so"


def notice_text(notice: Notice, *, now: datetime, advice: Callable[[int | None], str]) -> str:
    if notice.kind == "window_closed":
        # Template sending from Slack arrives with the templates work; until then, say
        # only what is true now.
        return (
            f":lock: *Not sent.* {_ago(notice.window_expires_at, now)} WhatsApp only accepts "
            "an approved template until the customer writes again."
        )
    if notice.kind == "delivery_failed":
        code = f"error {notice.error_code}" if notice.error_code is not None else "an error"
        title = f": {escape(notice.error_title)}" if notice.error_title else ""
        return f":x: *Not delivered* ({code}{title}). {advice(notice.error_code)}"
    if notice.kind == "send_delayed":
        code = f" (error {notice.error_code})" if notice.error_code is not None else ""
        return (
            f":hourglass_flowing_sand: WhatsApp asked us to slow down{code}. "
            "Your reply is queued and will be retried automatically; nothing to do."
        )
    return f":information_source: {escape(notice.kind)}"


def post_metadata(key: str) -> dict[str, Any]:
    """Message metadata that lets a post be found again after a crash."""
    return {"event_type": "wabridge_post", "event_payload": {"key": key}}
