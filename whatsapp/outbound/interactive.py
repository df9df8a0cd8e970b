"""Interactive messages: reply buttons, lists and a call-to-action URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from whatsapp.outbound.fields import (
    ContentError,
    choice_field,
    ensure_unique,
    field_path,
    is_blank,
    items_field,
    message_body,
    object_field,
    optional_string,
    string_field,
    url_field,
)
from whatsapp.outbound.messages import _media_object

# Interactive messages (the OpenAPI file's HeaderObject, BodyObject, FooterObject,
# ActionObject and SectionObject state all of these but the cta_url text).
_MAX_BODY: Final = 1024


_MAX_HEADER: Final = 60


_MAX_FOOTER: Final = 60


_MAX_BUTTONS: Final = 3


_MAX_BUTTON_ID: Final = 256


_MAX_BUTTON_TITLE: Final = 20


_MAX_LIST_BUTTON: Final = 20


_MAX_SECTIONS: Final = 10


_MAX_ROWS: Final = 10


_MAX_ROW_ID: Final = 200


_MAX_ROW_TITLE: Final = 24


_MAX_ROW_DESCRIPTION: Final = 72


_MAX_SECTION_TITLE: Final = 24


_MAX_CTA_TEXT: Final = 20  # Meta's documentation; the file has no cta_url at all


_MEDIA_HEADERS: Final = ("image", "video", "document")


def _header(value: object, path: str, *, media: bool, limit: int) -> dict[str, Any]:
    """A header: a string is text; an object is ``{"type": "text", "text"}`` or, where
    ``media`` is allowed, ``{"type": "image"|"video"|"document", "url"|"media_id"}``."""
    if isinstance(value, str):
        return {"type": "text", "text": string_field(value, path, label="header", limit=limit)}
    kinds = ("text", *_MEDIA_HEADERS) if media else ("text",)
    data = object_field(value, path, ("type", "text", "url", "media_id"), label="header")
    kind = choice_field(data.get("type"), field_path(path, "type"), kinds, label="header type")
    if kind == "text":
        object_field(data, path, ("type", "text"), label="a text header")
        text = string_field(
            data.get("text"), field_path(path, "text"), label="header text", limit=limit
        )
        return {"type": "text", "text": text}
    object_field(data, path, ("type", "url", "media_id"), label=f"the {kind} header")
    return {
        "type": kind,
        kind: _media_object(kind, data.get("media_id"), data.get("url"), path, "url"),
    }


def _interactive(
    kind: str, body: object, header: object, footer: object, action: dict[str, Any], at: str
) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind}
    if not is_blank(header):
        interactive["header"] = _header(
            header, field_path(at, "header"), media=kind != "list", limit=_MAX_HEADER
        )
    interactive["body"] = {
        "text": string_field(body, field_path(at, "body"), label="body", limit=_MAX_BODY)
    }
    footer_text = optional_string(
        footer, field_path(at, "footer"), label="footer", limit=_MAX_FOOTER
    )
    if footer_text is not None:
        interactive["footer"] = {"text": footer_text}
    interactive["action"] = action
    return interactive


def _buttons_action(buttons: object, at: str) -> dict[str, Any]:
    path = field_path(at, "buttons")
    ids: set[str] = set()
    titles: set[str] = set()
    replies: list[dict[str, Any]] = []
    for index, item in enumerate(items_field(buttons, path, label="buttons", most=_MAX_BUTTONS)):
        where = field_path(path, index)
        data = object_field(item, where, ("id", "title"), label="a button")
        button_id = string_field(
            data.get("id"), field_path(where, "id"), label="button id", limit=_MAX_BUTTON_ID
        )
        if button_id != button_id.strip():
            raise ContentError(field_path(where, "id"), "button id has leading or trailing spaces")
        ensure_unique(button_id, ids, field_path(where, "id"), label="button id")
        title = string_field(
            data.get("title"),
            field_path(where, "title"),
            label="button title",
            limit=_MAX_BUTTON_TITLE,
        )
        ensure_unique(title, titles, field_path(where, "title"), label="button title")
        replies.append({"type": "reply", "reply": {"id": button_id, "title": title}})
    return {"buttons": replies}


def _list_action(button: object, sections: object, at: str) -> dict[str, Any]:
    label = string_field(
        button, field_path(at, "button"), label="button label", limit=_MAX_LIST_BUTTON
    )
    path = field_path(at, "sections")
    given = items_field(sections, path, label="sections", most=_MAX_SECTIONS)
    ids: set[str] = set()
    built: list[dict[str, Any]] = []
    for index, item in enumerate(given):
        where = field_path(path, index)
        data = object_field(item, where, ("title", "rows"), label="a section")
        section: dict[str, Any] = {}
        title = optional_string(
            data.get("title"),
            field_path(where, "title"),
            label="section title",
            limit=_MAX_SECTION_TITLE,
        )
        if title is not None:
            section["title"] = title
        elif len(given) > 1:
            raise ContentError(
                field_path(where, "title"),
                "section title is missing; a list of several sections needs one",
            )
        rows_path = field_path(where, "rows")
        rows = items_field(data.get("rows"), rows_path, label="rows", most=_MAX_ROWS)
        section["rows"] = [_row(row, field_path(rows_path, i), ids) for i, row in enumerate(rows)]
        built.append(section)
    total = sum(len(section["rows"]) for section in built)
    if total > _MAX_ROWS:
        raise ContentError(
            path, f"sections have {total} rows in all; WhatsApp allows {_MAX_ROWS} in all"
        )
    return {"button": label, "sections": built}


def _row(value: object, path: str, ids: set[str]) -> dict[str, str]:
    data = object_field(value, path, ("id", "title", "description"), label="a row")
    row_id = string_field(data.get("id"), field_path(path, "id"), label="row id", limit=_MAX_ROW_ID)
    ensure_unique(row_id, ids, field_path(path, "id"), label="row id")
    row = {
        "id": row_id,
        "title": string_field(
            data.get("title"), field_path(path, "title"), label="row title", limit=_MAX_ROW_TITLE
        ),
    }
    description = optional_string(
        data.get("description"),
        field_path(path, "description"),
        label="row description",
        limit=_MAX_ROW_DESCRIPTION,
    )
    if description is not None:
        row["description"] = description
    return row


def _cta_url_action(display_text: object, url: object, at: str) -> dict[str, Any]:
    text = string_field(
        display_text, field_path(at, "display_text"), label="display text", limit=_MAX_CTA_TEXT
    )
    link = url_field(url, field_path(at, "url"), label="url")
    return {"name": "cta_url", "parameters": {"display_text": text, "url": link}}


def buttons_payload(
    to: str,
    body: str,
    buttons: Sequence[Mapping[str, str]],
    *,
    header: str | Mapping[str, str] | None = None,
    footer: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """An interactive message with one to three reply buttons, each ``{"id", "title"}``."""
    action = _buttons_action(buttons, "")
    return message_body(
        to, "interactive", _interactive("button", body, header, footer, action, ""), reply_to
    )


def list_payload(
    to: str,
    body: str,
    button: str,
    sections: Sequence[Mapping[str, Any]],
    *,
    header: str | Mapping[str, str] | None = None,
    footer: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """An interactive list opened by ``button``: sections of ``{"title"?, "rows": [{"id",
    "title", "description"?}]}``, at most ten rows in all; a list's header is text only."""
    action = _list_action(button, sections, "")
    return message_body(
        to, "interactive", _interactive("list", body, header, footer, action, ""), reply_to
    )


def cta_url_payload(
    to: str,
    body: str,
    *,
    display_text: str,
    url: str,
    header: str | Mapping[str, str] | None = None,
    footer: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """An interactive message with one button that opens ``url`` (http or https)."""
    action = _cta_url_action(display_text, url, "")
    return message_body(
        to, "interactive", _interactive("cta_url", body, header, footer, action, ""), reply_to
    )
