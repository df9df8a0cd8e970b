"""Validation of `POST /{phone_number_id}/messages` bodies, with Meta's codes and wording."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MESSAGE_TYPES", "GraphError", "validate_send"]

MESSAGE_TYPES = frozenset(
    {
        "text",
        "template",
        "image",
        "document",
        "audio",
        "video",
        "sticker",
        "location",
        "reaction",
        "interactive",
        "contacts",
    }
)
MEDIA_TYPES = frozenset({"image", "document", "audio", "video", "sticker"})
CAPTIONED = frozenset({"image", "document", "video"})
MAX_TEXT = 4096
MAX_CAPTION = 1024


@dataclass
class GraphError(Exception):
    """An error the simulated Graph API answers with Meta's envelope."""

    code: int
    title: str
    details: str = ""
    http_status: int = 400


def _invalid(details: str) -> GraphError:
    return GraphError(100, "Invalid parameter", details)


def _require_object(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    if not isinstance(value, Mapping):
        raise _invalid(f"The parameter {key} is required.")
    return value


def _check_text(body: Mapping[str, Any]) -> None:
    text = _require_object(body, "text")
    text_body = text.get("body")
    if not isinstance(text_body, str) or not text_body:
        raise _invalid("The parameter text['body'] is required.")
    if len(text_body) > MAX_TEXT:
        raise _invalid(f"Param text['body'] must be at most {MAX_TEXT} characters long.")


def _check_template(body: Mapping[str, Any]) -> None:
    template = _require_object(body, "template")
    if not isinstance(template.get("name"), str) or not template["name"]:
        raise _invalid("The parameter template['name'] is required.")
    language = template.get("language")
    if not isinstance(language, Mapping) or not isinstance(language.get("code"), str):
        raise _invalid("The parameter template['language']['code'] is required.")
    components = template.get("components", [])
    if not isinstance(components, list) or not all(
        isinstance(c, Mapping) and isinstance(c.get("type"), str) for c in components
    ):
        raise _invalid("Param template['components'] must be a list of objects with a type.")


def _check_media(kind: str, body: Mapping[str, Any]) -> None:
    media = _require_object(body, kind)
    has_id, has_link = bool(media.get("id")), bool(media.get("link"))
    if has_id == has_link:
        raise _invalid(f"Exactly one of {kind}['id'] or {kind}['link'] must be given.")
    caption = media.get("caption")
    if caption is not None:
        if kind not in CAPTIONED:
            raise _invalid(f"Param {kind}['caption'] is not supported for {kind} messages.")
        if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
            raise _invalid(
                f"Param {kind}['caption'] must be a string of at most {MAX_CAPTION} characters."
            )


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_location(body: Mapping[str, Any]) -> None:
    location = _require_object(body, "location")
    for key in ("latitude", "longitude"):
        if not _is_number(location.get(key)):
            raise _invalid(f"The parameter location['{key}'] is required.")


def _check_reaction(body: Mapping[str, Any]) -> None:
    reaction = _require_object(body, "reaction")
    if not isinstance(reaction.get("message_id"), str) or not reaction["message_id"]:
        raise _invalid("The parameter reaction['message_id'] is required.")
    if not isinstance(reaction.get("emoji"), str):
        raise _invalid("The parameter reaction['emoji'] is required.")


def _check_interactive(body: Mapping[str, Any]) -> None:
    interactive = _require_object(body, "interactive")
    if not isinstance(interactive.get("type"), str):
        raise _invalid("The parameter interactive['type'] is required.")
    if not isinstance(interactive.get("action"), Mapping):
        raise _invalid("The parameter interactive['action'] is required.")


def _check_contacts(body: Mapping[str, Any]) -> None:
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        raise _invalid("The parameter contacts is required.")
    for contact in contacts:
        name = contact.get("name") if isinstance(contact, Mapping) else None
        if not isinstance(name, Mapping) or not name.get("formatted_name"):
            raise _invalid("The parameter contacts['name']['formatted_name'] is required.")


def validate_send(body: Any) -> str:
    """Check a send body like Meta does and return its message type; raise GraphError if invalid."""
    if not isinstance(body, Mapping):
        raise _invalid("The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        raise _invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        raise _invalid("The parameter to is required.")
    # Meta defaults a missing type to text.
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise _invalid(
            f"Param type must be one of {{{', '.join(sorted(MESSAGE_TYPES))}}}, got {kind!r}."
        )
    context = body.get("context")
    if context is not None and (
        not isinstance(context, Mapping) or not isinstance(context.get("message_id"), str)
    ):
        raise _invalid("The parameter context['message_id'] must be a string.")
    if kind == "text":
        _check_text(body)
    elif kind == "template":
        _check_template(body)
    elif kind in MEDIA_TYPES:
        _check_media(kind, body)
    elif kind == "location":
        _check_location(body)
    elif kind == "reaction":
        _check_reaction(body)
    elif kind == "interactive":
        _check_interactive(body)
    else:
        _check_contacts(body)
    return str(kind)
