"""Pure builders of the JSON bodies ``POST /{phone_number_id}/messages`` accepts.

Each builder validates what Meta would reject anyway, so a bad message fails here with a
clear ``ValueError`` instead of a round trip and an error code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from whatsapp.media import CAPTIONED_KINDS, MEDIA_KINDS

__all__ = [
    "MAX_CAPTION",
    "MAX_TEXT",
    "audio_payload",
    "document_payload",
    "image_payload",
    "location_payload",
    "media_payload",
    "normalize_recipient",
    "reaction_payload",
    "read_receipt_payload",
    "sticker_payload",
    "template_params_components",
    "template_payload",
    "text_payload",
    "video_payload",
]

MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024

_PHONE_LIKE: Final = re.compile(r"^\+?[\d\s().-]+$")
_SEPARATORS: Final = re.compile(r"[\s().-]")


def normalize_recipient(to: str) -> str:
    """The ``to`` value to send: a phone number keeps its digits (and a leading ``+``).

    Meta accepts the number with or without ``+``; anything that is not phone-like (a
    business-scoped user id, a group id) is passed through, only trimmed.
    """
    value = to.strip()
    if _PHONE_LIKE.match(value):
        value = _SEPARATORS.sub("", value)
    if not value or value == "+":
        raise ValueError("recipient is empty")
    return value


def _message(to: str, kind: str, body: Any, reply_to: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": normalize_recipient(to),
        "type": kind,
        kind: body,
    }
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def text_payload(
    to: str, text: str, *, preview_url: bool = False, reply_to: str | None = None
) -> dict[str, Any]:
    """A text message, optionally quoting ``reply_to``; the text must be 1 to 4096 characters."""
    if not text.strip():
        raise ValueError("text message is empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text message is {len(text)} characters; WhatsApp allows {MAX_TEXT}")
    body: dict[str, Any] = {"body": text}
    if preview_url:
        body["preview_url"] = True
    return _message(to, "text", body, reply_to)


def template_payload(
    to: str, name: str, language: str, components: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A template message; ``components`` are in the Graph API's form (see below for params)."""
    if not name.strip():
        raise ValueError("template name is empty")
    if not language.strip():
        raise ValueError("template language is empty")
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = [dict(c) for c in components]
    return _message(to, "template", template, None)


def template_params_components(params: Sequence[str]) -> list[dict[str, Any]]:
    """Body variables ``{{1}}``, ``{{2}}``… as positional text parameters (order matters)."""
    if isinstance(params, str):  # a lone string is a Sequence[str] too; almost surely a bug
        raise TypeError("params must be a sequence of strings, not a string")
    if not params:
        return []
    for position, value in enumerate(params, start=1):
        if not value.strip():
            raise ValueError(f"template parameter {{{{{position}}}}} is empty")
    return [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]


def read_receipt_payload(wamid: str) -> dict[str, Any]:
    """Mark ``wamid`` (and every earlier message of that customer) as read."""
    if not wamid:
        raise ValueError("message id is empty")
    return {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}


def reaction_payload(to: str, wamid: str, emoji: str) -> dict[str, Any]:
    """React to ``wamid`` with ``emoji``; an empty emoji removes our reaction."""
    if not wamid:
        raise ValueError("message id is empty")
    return _message(to, "reaction", {"message_id": wamid, "emoji": emoji}, None)


def location_payload(
    to: str,
    *,
    latitude: float,
    longitude: float,
    name: str | None = None,
    address: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A location pin; coordinates are numbers, as the API takes them."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError(f"coordinates out of range: {latitude}, {longitude}")
    body: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        body["name"] = name
    if address:
        body["address"] = address
    return _message(to, "location", body, reply_to)


def media_payload(
    kind: str,
    to: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A media message of ``kind`` by exactly one of ``media_id`` (uploaded) or ``link``."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"unknown media kind {kind!r}; expected one of {sorted(MEDIA_KINDS)}")
    if (media_id is None) == (link is None) or not (media_id or link):
        raise ValueError(f"{kind} needs exactly one of media_id or link")
    body: dict[str, Any] = {"id": media_id} if media_id else {"link": link}
    if caption:
        if kind not in CAPTIONED_KINDS:
            raise ValueError(f"{kind} messages cannot have a caption")
        if len(caption) > MAX_CAPTION:
            raise ValueError(f"caption is {len(caption)} characters; WhatsApp allows {MAX_CAPTION}")
        body["caption"] = caption
    if filename:
        if kind != "document":
            raise ValueError("only documents take a filename")
        body["filename"] = filename
    return _message(to, kind, body, reply_to)


def image_payload(
    to: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """An image (jpeg/png, up to 5 MB) by id or link."""
    return media_payload(
        "image", to, media_id=media_id, link=link, caption=caption, reply_to=reply_to
    )


def document_payload(
    to: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A document (up to 100 MB) by id or link; ``filename`` is what the customer sees."""
    return media_payload(
        "document",
        to,
        media_id=media_id,
        link=link,
        caption=caption,
        filename=filename,
        reply_to=reply_to,
    )


def video_payload(
    to: str,
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A video (mp4/3gpp, up to 16 MB) by id or link."""
    return media_payload(
        "video", to, media_id=media_id, link=link, caption=caption, reply_to=reply_to
    )


def audio_payload(
    to: str, *, media_id: str | None = None, link: str | None = None, reply_to: str | None = None
) -> dict[str, Any]:
    """An audio clip (up to 16 MB) by id or link; audio takes no caption."""
    return media_payload("audio", to, media_id=media_id, link=link, reply_to=reply_to)


def sticker_payload(
    to: str, *, media_id: str | None = None, link: str | None = None, reply_to: str | None = None
) -> dict[str, Any]:
    """A webp sticker by id or link; stickers take no caption."""
    return media_payload("sticker", to, media_id=media_id, link=link, reply_to=reply_to)
