"""Interactive messages: reply buttons, lists and a call-to-action URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from whatsapp.outbound.fields import (
    ContentError,
    _at,
    _blank,
    _items,
    _message,
    _object,
    _one_of,
    _optional,
    _string,
    _unique,
    _url,
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
        return {"type": "text", "text": _string(value, path, label="header", limit=limit)}
    kinds = ("text", *_MEDIA_HEADERS) if media else ("text",)
    data = _object(value, path, ("type", "text", "url", "media_id"), label="header")
    kind = _one_of(data.get("type"), _at(path, "type"), kinds, label="header type")
    if kind == "text":
        _object(data, path, ("type", "text"), label="a text header")
        text = _string(data.get("text"), _at(path, "text"), label="header text", limit=limit)
        return {"type": "text", "text": text}
    _object(data, path, ("type", "url", "media_id"), label=f"the {kind} header")
    return {
        "type": kind,
        kind: _media_object(kind, data.get("media_id"), data.get("url"), path, "url"),
    }


def _interactive(
    kind: str, body: object, header: object, footer: object, action: dict[str, Any], at: str
) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind}
    if not _blank(header):
        interactive["header"] = _header(
            header, _at(at, "header"), media=kind != "list", limit=_MAX_HEADER
        )
    interactive["body"] = {"text": _string(body, _at(at, "body"), label="body", limit=_MAX_BODY)}
    footer_text = _optional(footer, _at(at, "footer"), label="footer", limit=_MAX_FOOTER)
    if footer_text is not None:
        interactive["footer"] = {"text": footer_text}
    interactive["action"] = action
    return interactive


def _buttons_action(buttons: object, at: str) -> dict[str, Any]:
    path = _at(at, "buttons")
    ids: set[str] = set()
    titles: set[str] = set()
    replies: list[dict[str, Any]] = []
    for index, item in enumerate(_items(buttons, path, label="buttons", most=_MAX_BUTTONS)):
        where = _at(path, index)
        data = _object(item, where, ("id", "title"), label="a button")
        button_id = _string(
            data.get("id"), _at(where, "id"), label="button id", limit=_MAX_BUTTON_ID
        )
        if button_id != button_id.strip():
            raise ContentError(_at(where, "id"), "button id has leading or trailing spaces")
        _unique(button_id, ids, _at(where, "id"), label="button id")
        title = _string(
            data.get("title"), _at(where, "title"), label="button title", limit=_MAX_BUTTON_TITLE
        )
        _unique(title, titles, _at(where, "title"), label="button title")
        replies.append({"type": "reply", "reply": {"id": button_id, "title": title}})
    return {"buttons": replies}


def _list_action(button: object, sections: object, at: str) -> dict[str, Any]:
    label = _string(button, _at(at, "button"), label="button label", limit=_MAX_LIST_BUTTON)
    path = _at(at, "sections")
    given = _items(sections, path, label="sections", most=_MAX_SECTIONS)
    ids: set[str] = set()
    built: list[dict[str, Any]] = []
    for index, item in enumerate(given):
        where = _at(path, index)
        data = _object(item, where, ("title", "rows"), label="a section")
        section: dict[str, Any] = {}
        title = _optional(
            data.get("title"), _at(where, "title"), label="section title", limit=_MAX_SECTION_TITLE
        )
        if title is not None:
            section["title"] = title
        elif len(given) > 1:
            raise ContentError(
                _at(where, "title"),
                "section title is missing; a list of several sections needs one",
            )
        rows_path = _at(where, "rows")
        rows = _items(data.get("rows"), rows_path, label="rows", most=_MAX_ROWS)
        section["rows"] = [_row(row, _at(rows_path, i), ids) for i, row in enumerate(rows)]
        built.append(section)
    total = sum(len(section["rows"]) for section in built)
    if total > _MAX_ROWS:
        raise ContentError(
            path, f"sections have {total} rows in all; WhatsApp allows {_MAX_ROWS} in all"
        )
    return {"button": label, "sections": built}


def _row(value: object, path: str, ids: set[str]) -> dict[str, str]:
    data = _object(value, path, ("id", "title", "description"), label="a row")
    row_id = _string(data.get("id"), _at(path, "id"), label="row id", limit=_MAX_ROW_ID)
    _unique(row_id, ids, _at(path, "id"), label="row id")
    row = {
        "id": row_id,
        "title": _string(
            data.get("title"), _at(path, "title"), label="row title", limit=_MAX_ROW_TITLE
        ),
    }
    description = _optional(
        data.get("description"),
        _at(path, "description"),
        label="row description",
        limit=_MAX_ROW_DESCRIPTION,
    )
    if description is not None:
        row["description"] = description
    return row


def _cta_url_action(display_text: object, url: object, at: str) -> dict[str, Any]:
    text = _string(display_text, _at(at, "display_text"), label="display text", limit=_MAX_CTA_TEXT)
    link = _url(url, _at(at, "url"), label="url")
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
    return _message(
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
    return _message(
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
    return _message(
        to, "interactive", _interactive("cta_url", body, header, footer, action, ""), reply_to
    )
