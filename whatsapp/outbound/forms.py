"""The REST API's content forms (CONTRACT.md, "Content by type") turned into a body through
the builders' own checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from whatsapp.media import MEDIA_KINDS
from whatsapp.outbound.contacts import _contacts_body
from whatsapp.outbound.fields import (
    ContentError,
    choice_field,
    field_path,
    is_blank,
    kind_of,
    message_body,
    object_field,
    string_field,
)
from whatsapp.outbound.interactive import (
    _buttons_action,
    _cta_url_action,
    _interactive,
    _list_action,
)
from whatsapp.outbound.messages import _location_body, _media_body, _reaction_body, _text_body
from whatsapp.outbound.templates import _components, _graph_components, _template_body

_CONTENT: Final = "content"


def _text_content(content: Mapping[str, Any]) -> dict[str, Any]:
    data = object_field(content, _CONTENT, ("text", "preview_url"), label="text content")
    return _text_body(data.get("text"), data.get("preview_url", False), _CONTENT)


def _media_content(kind: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    keys = ("url", "media_id", "caption", "filename")

    def build(content: Mapping[str, Any]) -> dict[str, Any]:
        data = object_field(content, _CONTENT, keys, label=f"{kind} content")
        return _media_body(
            kind,
            data.get("media_id"),
            data.get("url"),
            data.get("caption"),
            data.get("filename"),
            _CONTENT,
            "url",
        )

    return build


def _location_content(content: Mapping[str, Any]) -> dict[str, Any]:
    data = object_field(
        content, _CONTENT, ("latitude", "longitude", "name", "address"), label="location content"
    )
    return _location_body(
        data.get("latitude"), data.get("longitude"), data.get("name"), data.get("address"), _CONTENT
    )


def _contacts_content(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = object_field(content, _CONTENT, ("contacts",), label="contacts content")
    return _contacts_body(data.get("contacts"), _CONTENT)


def _reaction_content(content: Mapping[str, Any]) -> dict[str, Any]:
    data = object_field(content, _CONTENT, ("message_id", "emoji"), label="reaction content")
    return _reaction_body(data.get("message_id"), data.get("emoji"), _CONTENT)


_INTERACTIVE_KEYS: Final = {
    "button": ("buttons",),
    "list": ("button", "sections"),
    "cta_url": ("display_text", "url"),
}


def _interactive_content(content: Mapping[str, Any]) -> dict[str, Any]:
    common = ("type", "body", "header", "footer")
    every = {key for keys in _INTERACTIVE_KEYS.values() for key in keys}
    data = object_field(content, _CONTENT, (*common, *every), label="interactive content")
    kind = choice_field(
        data.get("type"),
        field_path(_CONTENT, "type"),
        tuple(_INTERACTIVE_KEYS),
        label="interactive type",
    )
    data = object_field(
        data, _CONTENT, (*common, *_INTERACTIVE_KEYS[kind]), label=f"{kind} content"
    )
    if kind == "button":
        action = _buttons_action(data.get("buttons"), _CONTENT)
    elif kind == "list":
        action = _list_action(data.get("button"), data.get("sections"), _CONTENT)
    else:
        action = _cta_url_action(data.get("display_text"), data.get("url"), _CONTENT)
    return _interactive(
        kind, data.get("body"), data.get("header"), data.get("footer"), action, _CONTENT
    )


def _template_content(content: Mapping[str, Any]) -> dict[str, Any]:
    short = ("params", "header", "buttons")
    data = object_field(
        content, _CONTENT, ("name", "language", "components", *short), label="template content"
    )
    if data.get("components") is not None:
        if any(data.get(key) is not None for key in short):
            raise ContentError(
                field_path(_CONTENT, "components"),
                "give either components (the Graph API's form) or params, header and buttons",
            )
        components = _graph_components(data["components"], field_path(_CONTENT, "components"))
    else:
        components = _components(
            data.get("params"), data.get("header"), data.get("buttons"), _CONTENT
        )
    return _template_body(data.get("name"), data.get("language"), components, _CONTENT)


_BUILDERS: Final[dict[str, Callable[[Mapping[str, Any]], Any]]] = {
    "text": _text_content,
    **{kind: _media_content(kind) for kind in sorted(MEDIA_KINDS)},
    "location": _location_content,
    "contacts": _contacts_content,
    "interactive": _interactive_content,
    "reaction": _reaction_content,
    "template": _template_content,
}


def content_payload(
    to: str, message_type: str, content: Mapping[str, Any], *, reply_to: str | None = None
) -> dict[str, Any]:
    """The request body for ``content`` of ``message_type`` in CONTRACT.md's forms, quoting
    ``reply_to`` (a wamid) if given; raises ``ContentError`` naming the first bad field."""
    build = _BUILDERS.get(message_type) if isinstance(message_type, str) else None
    if build is None:
        expected = ", ".join(sorted(_BUILDERS))
        raise ContentError(
            "message_type", f"unknown message type {message_type!r}; expected one of {expected}"
        )
    if not is_blank(reply_to):
        string_field(reply_to, "reply_to", label="reply_to")
        if message_type == "reaction":
            raise ContentError(
                "reply_to", "a reaction cannot quote a message; content.message_id names its target"
            )
    if not isinstance(content, Mapping):
        raise ContentError(_CONTENT, f"content must be an object, not {kind_of(content)}")
    return message_body(to, message_type, build(content), reply_to or None)
