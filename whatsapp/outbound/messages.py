"""Bodies of the plain messages: text, media, location, reaction, and the read receipt. In the
builders of parts of a body, ``at`` is the path the fields' names are relative to."""

from __future__ import annotations

from typing import Any, Final

from whatsapp.media import CAPTIONED_KINDS, MEDIA_KINDS
from whatsapp.outbound.fields import (
    ContentError,
    field_path,
    flag_field,
    is_blank,
    kind_of,
    message_body,
    optional_string,
    string_field,
    url_field,
)

MAX_TEXT: Final = 4096


MAX_CAPTION: Final = 1024


def _text_body(text: object, preview_url: object, at: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "body": string_field(text, field_path(at, "text"), label="text", limit=MAX_TEXT)
    }
    if flag_field(preview_url, field_path(at, "preview_url"), label="preview_url"):
        body["preview_url"] = True
    return body


def _media_object(
    kind: str, media_id: object, link: object, at: str, link_key: str
) -> dict[str, str]:
    """``{"id"}`` or ``{"link"}``: exactly one of them, blanks counting as absent."""
    if is_blank(media_id) == is_blank(link):
        raise ContentError(
            field_path(at, link_key), f"{kind} needs exactly one of media_id or {link_key}"
        )
    if not is_blank(media_id):
        return {"id": string_field(media_id, field_path(at, "media_id"), label="media_id")}
    return {"link": url_field(link, field_path(at, link_key), label=link_key)}


def _media_body(
    kind: str,
    media_id: object,
    link: object,
    caption: object,
    filename: object,
    at: str,
    link_key: str,
) -> dict[str, Any]:
    if kind not in MEDIA_KINDS:
        expected = ", ".join(sorted(MEDIA_KINDS))
        raise ContentError("kind", f"unknown media kind {kind!r}; expected one of {expected}")
    body: dict[str, Any] = _media_object(kind, media_id, link, at, link_key)
    if caption is not None:
        if kind not in CAPTIONED_KINDS:
            raise ContentError(field_path(at, "caption"), f"{kind} messages cannot have a caption")
        text = optional_string(
            caption, field_path(at, "caption"), label="caption", limit=MAX_CAPTION
        )
        if text is not None:
            body["caption"] = text
    if filename is not None:
        if kind != "document":
            raise ContentError(field_path(at, "filename"), "only documents take a filename")
        name = optional_string(filename, field_path(at, "filename"), label="filename")
        if name is not None:
            body["filename"] = name
    return body


def _coordinate(value: object, path: str, *, label: str, bound: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContentError(path, f"{label} must be a number, not {kind_of(value)}")
    if not -bound <= value <= bound:
        raise ContentError(path, f"{label} {value} is out of range -{bound} to {bound}")
    return value


def _location_body(
    latitude: object, longitude: object, name: object, address: object, at: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "latitude": _coordinate(latitude, field_path(at, "latitude"), label="latitude", bound=90),
        "longitude": _coordinate(
            longitude, field_path(at, "longitude"), label="longitude", bound=180
        ),
    }
    for key, value in (("name", name), ("address", address)):
        text = optional_string(value, field_path(at, key), label=key)
        if text is not None:
            body[key] = text
    return body


def _reaction_body(message_id: object, emoji: object, at: str) -> dict[str, Any]:
    wamid = string_field(message_id, field_path(at, "message_id"), label="message id")
    if emoji is None:
        raise ContentError(
            field_path(at, "emoji"), "emoji is missing; an empty one removes a reaction"
        )
    if not isinstance(emoji, str):
        raise ContentError(field_path(at, "emoji"), f"emoji must be a string, not {kind_of(emoji)}")
    return {"message_id": wamid, "emoji": emoji}


def text_payload(
    to: str, text: str, *, preview_url: bool = False, reply_to: str | None = None
) -> dict[str, Any]:
    """A text message, optionally quoting ``reply_to``; the text must be 1 to 4096 characters."""
    return message_body(to, "text", _text_body(text, preview_url, ""), reply_to)


def read_receipt_payload(wamid: str) -> dict[str, Any]:
    """Mark ``wamid`` (and every earlier message of that customer) as read."""
    if not wamid:
        raise ContentError("message_id", "message id is empty")
    return {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}


def reaction_payload(to: str, wamid: str, emoji: str) -> dict[str, Any]:
    """React to ``wamid`` with ``emoji``; an empty emoji removes our reaction."""
    return message_body(to, "reaction", _reaction_body(wamid, emoji, ""), None)


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
    return message_body(
        to, "location", _location_body(latitude, longitude, name, address, ""), reply_to
    )


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
    body = _media_body(kind, media_id, link, caption, filename, "", "link")
    return message_body(to, kind, body, reply_to)


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
