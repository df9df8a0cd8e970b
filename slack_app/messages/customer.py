"""How each kind of customer message reads in the thread.

Everything the customer wrote is escaped (``whatsapp_to_slack``), so nothing they send can
mention, link or broadcast; links the bridge adds itself (a map) are ours to make.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote_plus

from bridge.ports import CustomerMessageView
from slack_app.text import whatsapp_to_slack

__all__ = ["DELETED_TEXT", "customer_message_text", "escape"]

#: What the thread calls each kind of file.
_FILES: Final = {
    "image": ":frame_with_picture: Photo",
    "video": ":film_frames: Video",
    "audio": ":sound: Audio",
    "voice": ":studio_microphone: Voice message",
    "document": ":page_facing_up: Document",
    "sticker": ":label: Sticker",
}


def escape(text: str) -> str:
    """Slack's three control characters, so text from outside never becomes a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _said(value: object) -> str:
    return whatsapp_to_slack(value) if isinstance(value, str) else ""


def _file(message: CustomerMessageView) -> str:
    # A voice note is audio that Meta marks as recorded in WhatsApp (``"voice": true``).
    kind = "voice" if message.content.get("voice") is True else message.message_type
    label = _FILES.get(kind, ":paperclip: File")
    name = message.content.get("filename")
    named = f" *{escape(name)}*" if isinstance(name, str) and name else ""
    caption = f": {_said(message.text)}" if message.text else ""
    follows = "" if message.edited else " _(the file follows)_"
    return f"{label}{named}{caption}{follows}"


def _location(message: CustomerMessageView) -> str:
    content = message.content
    latitude, longitude = content.get("latitude"), content.get("longitude")
    place = ", ".join(_said(content.get(k)) for k in ("name", "address") if content.get(k))
    where = f"{latitude}, {longitude}"
    link = f"https://www.google.com/maps/search/?api=1&query={quote_plus(where)}"
    return f":round_pushpin: Location{': ' + place if place else ''} ({where}) <{link}|Open map>"


def _contacts(message: CustomerMessageView) -> str:
    cards = []
    for card in message.content.get("contacts") or []:
        if not isinstance(card, dict):
            continue
        name = (card.get("name") or {}).get("formatted_name") or "A contact"
        phones = [p.get("phone") for p in card.get("phones") or [] if isinstance(p, dict)]
        emails = [e.get("email") for e in card.get("emails") or [] if isinstance(e, dict)]
        org = (card.get("org") or {}).get("company")
        details = " · ".join(_said(d) for d in (org, *phones, *emails) if d)
        cards.append(f"*{_said(name)}*" + (f" — {details}" if details else ""))
    return ":bust_in_silhouette: Contact card:\n" + "\n".join(cards or ["(empty)"])


def _form(reply: dict[str, Any]) -> str:
    """A completed WhatsApp Flow: its answers, one per line (the flow's token left out)."""
    try:
        answers = json.loads(reply.get("response_json") or "{}")
    except ValueError:
        answers = {}
    if not isinstance(answers, dict):
        answers = {}
    lines = [
        f"• {_said(key.replace('_', ' '))}: {_said(value)}"
        for key, value in answers.items()
        if key != "flow_token"
    ]
    return "\n".join([":clipboard: Sent a form", *lines])


def _interactive(message: CustomerMessageView) -> str:
    content = message.content
    kind = content.get("type")
    if kind == "nfm_reply":  # a WhatsApp Flow the customer completed
        return _form(content.get("nfm_reply") or {})
    if message.text:
        return f":radio_button: Chose “{_said(message.text)}”"
    return ":radio_button: Answered an interactive message"


def _order(message: CustomerMessageView) -> str:
    items = message.content.get("product_items") or []
    count = sum(int(i.get("quantity", 1)) for i in items if isinstance(i, dict))
    note = f": {_said(message.text)}" if message.text else ""
    return f":shopping_trolley: Sent an order of {count} item(s){note}"


def _reaction(message: CustomerMessageView) -> str:
    emoji = message.content.get("emoji")
    if not emoji:
        return ":leftwards_arrow_with_hook: Removed a reaction"
    return f"Reacted {_said(emoji)}"


def _edit(message: CustomerMessageView) -> str:
    """An edit of a message the thread never showed (it came before the bridge, or its post
    failed, or the edit overtook it): the new wording, said as such."""
    said = f": {_said(message.text)}" if message.text else ""
    return f":pencil2: _Edited a message not shown here_{said}"


def _unknown(message: CustomerMessageView) -> str:
    errors = message.content.get("errors") or []
    why = ""
    if errors and isinstance(errors[0], dict):
        detail = (errors[0].get("error_data") or {}).get("details") or errors[0].get("title")
        why = f" ({_said(detail)})" if detail else ""
    kind = message.message_type
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return (
        f":grey_question: The customer sent {article} *{escape(kind)}* message that "
        f"cannot be shown here{why}. Ask them to send it another way if it matters."
    )


_KINDS: Final[dict[str, Callable[[CustomerMessageView], str]]] = {
    **dict.fromkeys(_FILES, _file),
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": lambda m: f":radio_button: Tapped “{_said(m.text)}”",
    "order": _order,
    "reaction": _reaction,
    "edit": _edit,
    "revoke": lambda m: ":wastebasket: _Deleted a message not shown here_",
    "system": lambda m: f":information_source: {_said(m.text) or 'A WhatsApp system message'}",
}


def _frame(message: CustomerMessageView) -> list[str]:
    """What surrounds the message: the ad it came from, forwarding, what it replies to."""
    content: dict[str, Any] = message.content
    lines = []
    referral = content.get("referral")
    if isinstance(referral, dict):
        headline = _said(referral.get("headline") or referral.get("body") or "an ad")
        url = referral.get("source_url")
        source = f" <{url}|(open)>" if isinstance(url, str) and url.startswith("https://") else ""
        lines.append(f":mega: _Came from the ad “{headline}”_{source}")
    if content.get("frequently_forwarded"):
        lines.append(":fast_forward: _Forwarded many times_")
    elif content.get("forwarded"):
        lines.append(":arrow_right: _Forwarded_")
    if message.quoted is not None:
        quoted = _said(message.quoted)[:200] or "a message"
        lines.append(f"> {quoted.replace(chr(10), ' ')}")
    return lines


def customer_message_text(message: CustomerMessageView) -> str:
    """A customer's message as Slack mrkdwn: their formatting kept, nothing they type active."""
    if message.message_type == "text" and message.text is not None:
        body = _said(message.text)
    else:
        body = _KINDS.get(message.message_type, _unknown)(message)
    if message.edited:
        body += " _(edited)_"
    return "\n".join([*_frame(message), body])


#: A post whose message the customer deleted.
DELETED_TEXT: Final = ":wastebasket: _The customer deleted this message._"
