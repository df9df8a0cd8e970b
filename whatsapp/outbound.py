"""Pure builders of the JSON bodies ``POST /{phone_number_id}/messages`` accepts.

Each builder checks what Meta would refuse anyway, so a bad message fails here with a
``ContentError`` (a ``ValueError``) naming the field and the rule, instead of a round trip
and an error code. ``content_payload`` turns the REST API's content forms (CONTRACT.md,
"Content by type") into a body through the same checks.

Limits are those Meta's OpenAPI description states, else those of Meta's documentation.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from typing import Any, Final
from urllib.parse import urlsplit

from whatsapp.media import CAPTIONED_KINDS, MEDIA_KINDS

__all__ = [
    "MAX_CAPTION",
    "MAX_TEXT",
    "ContentError",
    "audio_payload",
    "buttons_payload",
    "contacts_payload",
    "content_payload",
    "cta_url_payload",
    "document_payload",
    "image_payload",
    "list_payload",
    "location_payload",
    "media_payload",
    "normalize_recipient",
    "reaction_payload",
    "read_receipt_payload",
    "sticker_payload",
    "template_components",
    "template_params_components",
    "template_payload",
    "text_payload",
    "video_payload",
]

MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024

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
# Contacts: the file's ContactsMessage allows 1 to 5 cards; types are its enums.
_MAX_CONTACTS: Final = 5
_CONTACT_TYPES: Final = ("HOME", "WORK")
# Templates: the file's TextParameter allows 32768 characters; header text (60), coupon
# codes (15) and the 10 buttons a template may have are Meta's documented limits.
_MAX_PARAMETER: Final = 32768
_MAX_HEADER_PARAMETER: Final = 60
_MAX_COUPON_CODE: Final = 15
_MAX_TEMPLATE_BUTTONS: Final = 10
_COMPONENT_TYPES: Final = frozenset({"header", "body", "button", "carousel", "limited_time_offer"})

_PHONE_LIKE: Final = re.compile(r"^\+?[\d\s().-]+$")
_SEPARATORS: Final = re.compile(r"[\s().-]")
_PARAMETER_NAME: Final = re.compile(r"^[A-Za-z0-9_]+$")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ContentError(ValueError):
    """Bad content for a message type; ``field`` is the path of the offending field, e.g.
    ``"content.buttons[3].title"``, and ``message`` says what is wrong in plain words."""

    field: str
    message: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- reading untrusted values ---------------------------------------------------------------


def _at(path: str, key: str | int) -> str:
    """The path of ``key`` inside ``path``: ``content.buttons[0].title``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    """A JSON reader's name for the type of ``value``."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _object(value: object, path: str, allowed: Collection[str], *, label: str) -> Mapping[str, Any]:
    """``value`` as a mapping holding no key beyond ``allowed`` (a typo is not ignored)."""
    if value is None:
        raise ContentError(path, f"{label} is missing")
    if not isinstance(value, Mapping):
        raise ContentError(path, f"{label} must be an object, not {_kind(value)}")
    for key in value:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise ContentError(_at(path, str(key)), f"unknown field; {label} takes {expected}")
    return value


def _string(value: object, path: str, *, label: str, limit: int | None = None) -> str:
    """``value`` as a non-blank string of at most ``limit`` characters."""
    if value is None:
        raise ContentError(path, f"{label} is missing")
    if not isinstance(value, str):
        raise ContentError(path, f"{label} must be a string, not {_kind(value)}")
    if not value.strip():
        raise ContentError(path, f"{label} is empty")
    if limit is not None and len(value) > limit:
        raise ContentError(path, f"{label} is {len(value)} characters; WhatsApp allows {limit}")
    return value


def _optional(value: object, path: str, *, label: str, limit: int | None = None) -> str | None:
    """Like ``_string``, but absent (``None`` or blank) gives ``None``."""
    return None if _blank(value) else _string(value, path, label=label, limit=limit)


def _items(
    value: object, path: str, *, label: str, most: int | None = None, least: int = 1
) -> list[Any]:
    """``value`` as a list of ``least`` to ``most`` (None: any number of) entries."""
    if value is None:
        raise ContentError(path, f"{label} is missing")
    if not isinstance(value, list | tuple):
        raise ContentError(path, f"{label} must be a list, not {_kind(value)}")
    if len(value) < least:
        raise ContentError(path, f"{label} is empty; WhatsApp needs at least {least}")
    if most is not None and len(value) > most:
        raise ContentError(path, f"{label} has {len(value)} entries; WhatsApp allows {most}")
    return list(value)


def _flag(value: object, path: str, *, label: str) -> bool:
    if not isinstance(value, bool):
        raise ContentError(path, f"{label} must be true or false, not {_kind(value)}")
    return value


def _url(value: object, path: str, *, label: str) -> str:
    """``value`` as an absolute http or https link."""
    link = _string(value, path, label=label)
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ContentError(path, f"{label} must be an http:// or https:// link")
    return link


def _one_of(value: object, path: str, choices: Sequence[str], *, label: str) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        expected = ", ".join(choices)
        if value is None:
            raise ContentError(path, f"{label} is missing; expected one of {expected}")
        raise ContentError(path, f"{label} {shown} is not one of {expected}")
    return value


def _unique(value: str, seen: set[str], path: str, *, label: str) -> None:
    if value in seen:
        raise ContentError(path, f"{label} {value!r} is used twice; each must be unique")
    seen.add(value)


# --- the message envelope -------------------------------------------------------------------


def normalize_recipient(to: str) -> str:
    """The ``to`` value to send: a phone number keeps its digits (and a leading ``+``).

    Meta accepts the number with or without ``+``; anything that is not phone-like (a
    business-scoped user id, a group id) is passed through, only trimmed.
    """
    value = to.strip()
    if _PHONE_LIKE.match(value):
        value = _SEPARATORS.sub("", value)
    if not value or value == "+":
        raise ContentError("to", "recipient is empty")
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


# --- message bodies (``at`` is the path the fields' names are relative to) -----------------


def _text_body(text: object, preview_url: object, at: str) -> dict[str, Any]:
    body: dict[str, Any] = {"body": _string(text, _at(at, "text"), label="text", limit=MAX_TEXT)}
    if _flag(preview_url, _at(at, "preview_url"), label="preview_url"):
        body["preview_url"] = True
    return body


def _media_object(
    kind: str, media_id: object, link: object, at: str, link_key: str
) -> dict[str, str]:
    """``{"id"}`` or ``{"link"}``: exactly one of them, blanks counting as absent."""
    if _blank(media_id) == _blank(link):
        raise ContentError(_at(at, link_key), f"{kind} needs exactly one of media_id or {link_key}")
    if not _blank(media_id):
        return {"id": _string(media_id, _at(at, "media_id"), label="media_id")}
    return {"link": _url(link, _at(at, link_key), label=link_key)}


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
            raise ContentError(_at(at, "caption"), f"{kind} messages cannot have a caption")
        text = _optional(caption, _at(at, "caption"), label="caption", limit=MAX_CAPTION)
        if text is not None:
            body["caption"] = text
    if filename is not None:
        if kind != "document":
            raise ContentError(_at(at, "filename"), "only documents take a filename")
        name = _optional(filename, _at(at, "filename"), label="filename")
        if name is not None:
            body["filename"] = name
    return body


def _coordinate(value: object, path: str, *, label: str, bound: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContentError(path, f"{label} must be a number, not {_kind(value)}")
    if not -bound <= value <= bound:
        raise ContentError(path, f"{label} {value} is out of range -{bound} to {bound}")
    return value


def _location_body(
    latitude: object, longitude: object, name: object, address: object, at: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "latitude": _coordinate(latitude, _at(at, "latitude"), label="latitude", bound=90),
        "longitude": _coordinate(longitude, _at(at, "longitude"), label="longitude", bound=180),
    }
    for key, value in (("name", name), ("address", address)):
        text = _optional(value, _at(at, key), label=key)
        if text is not None:
            body[key] = text
    return body


def _reaction_body(message_id: object, emoji: object, at: str) -> dict[str, Any]:
    wamid = _string(message_id, _at(at, "message_id"), label="message id")
    if emoji is None:
        raise ContentError(_at(at, "emoji"), "emoji is missing; an empty one removes a reaction")
    if not isinstance(emoji, str):
        raise ContentError(_at(at, "emoji"), f"emoji must be a string, not {_kind(emoji)}")
    return {"message_id": wamid, "emoji": emoji}


# --- contacts -------------------------------------------------------------------------------

_CONTACT_KEYS: Final = ("name", "birthday", "phones", "emails", "org", "urls", "addresses")
_NAME_KEYS: Final = ("formatted_name", "first_name", "last_name", "middle_name", "prefix", "suffix")
_ORG_KEYS: Final = ("company", "department", "title")
_ADDRESS_KEYS: Final = ("street", "city", "state", "zip", "country", "country_code")


def _strings(data: Mapping[str, Any], keys: Sequence[str], path: str) -> dict[str, str]:
    """The optional string fields ``keys`` of ``data`` that are given."""
    found: dict[str, str] = {}
    for key in keys:
        text = _optional(data.get(key), _at(path, key), label=key.replace("_", " "))
        if text is not None:
            found[key] = text
    return found


def _contact_type(value: object, path: str) -> str | None:
    if _blank(value):
        return None
    upper = value.upper() if isinstance(value, str) else value
    return _one_of(upper, path, _CONTACT_TYPES, label="type")


def _typed_entries(
    value: object, path: str, *, key: str, check: Callable[[object, str], str]
) -> list[dict[str, str]]:
    """A contact's phones, emails or urls: each ``{key, "type"?}`` (phones also ``wa_id``)."""
    extra = ("wa_id",) if key == "phone" else ()
    entries: list[dict[str, str]] = []
    for index, item in enumerate(_items(value, path, label=f"{key}s", least=0)):
        where = _at(path, index)
        data = _object(item, where, (key, "type", *extra), label=key)
        entry = {key: check(data.get(key), _at(where, key))}
        kind = _contact_type(data.get("type"), _at(where, "type"))
        if kind is not None:
            entry["type"] = kind
        entry.update(_strings(data, extra, where))
        entries.append(entry)
    return entries


def _phone(value: object, path: str) -> str:
    return _string(value, path, label="phone")


def _email(value: object, path: str) -> str:
    email = _string(value, path, label="email")
    if not _EMAIL.match(email.strip()):
        raise ContentError(path, f"email {email!r} is not an email address")
    return email


def _contact_url(value: object, path: str) -> str:
    return _url(value, path, label="url")


def _contact(value: object, path: str) -> dict[str, Any]:
    data = _object(value, path, _CONTACT_KEYS, label="a contact")
    name_path = _at(path, "name")
    name = _object(data.get("name"), name_path, _NAME_KEYS, label="name")
    formatted = _string(
        name.get("formatted_name"), _at(name_path, "formatted_name"), label="formatted name"
    )
    contact: dict[str, Any] = {
        "name": {"formatted_name": formatted, **_strings(name, _NAME_KEYS[1:], name_path)}
    }
    birthday = _optional(data.get("birthday"), _at(path, "birthday"), label="birthday")
    if birthday is not None:
        contact["birthday"] = _birthday(birthday, _at(path, "birthday"))
    for key, entry_key, check in (
        ("phones", "phone", _phone),
        ("emails", "email", _email),
        ("urls", "url", _contact_url),
    ):
        if data.get(key) is not None:
            entries = _typed_entries(data[key], _at(path, key), key=entry_key, check=check)
            if entries:
                contact[key] = entries
    if data.get("org") is not None:
        org_path = _at(path, "org")
        org = _strings(_object(data["org"], org_path, _ORG_KEYS, label="org"), _ORG_KEYS, org_path)
        if org:
            contact["org"] = org
    if data.get("addresses") is not None:
        addresses_path = _at(path, "addresses")
        addresses = _items(data["addresses"], addresses_path, label="addresses", least=0)
        contact["addresses"] = [
            _address(item, _at(addresses_path, index)) for index, item in enumerate(addresses)
        ]
        if not contact["addresses"]:
            del contact["addresses"]
    return contact


def _birthday(text: str, path: str) -> str:
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
    except ValueError:
        raise ContentError(path, f"birthday {text!r} is not a date as YYYY-MM-DD") from None
    return text


def _address(value: object, path: str) -> dict[str, str]:
    data = _object(value, path, (*_ADDRESS_KEYS, "type"), label="an address")
    address = _strings(data, _ADDRESS_KEYS, path)
    if not address:
        raise ContentError(path, "address is empty; give at least a street, city or country")
    kind = _contact_type(data.get("type"), _at(path, "type"))
    if kind is not None:
        address["type"] = kind
    return address


def _contacts_body(contacts: object, at: str) -> list[dict[str, Any]]:
    path = _at(at, "contacts")
    if isinstance(contacts, Mapping):  # one card given alone: a list of one is meant
        raise ContentError(path, "contacts must be a list of contact cards, not one object")
    cards = _items(contacts, path, label="contacts", most=_MAX_CONTACTS)
    return [_contact(card, _at(path, index)) for index, card in enumerate(cards)]


# --- interactive messages -------------------------------------------------------------------

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


# --- templates ------------------------------------------------------------------------------


def _positional(params: Sequence[object], path: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for index, value in enumerate(params):
        label = f"template parameter {{{{{index + 1}}}}}"
        text = _string(value, _at(path, index), label=label, limit=_MAX_PARAMETER)
        parameters.append({"type": "text", "text": text})
    return parameters


def _parameter_name(name: object, path: str) -> str:
    if not isinstance(name, str) or not _PARAMETER_NAME.match(name):
        raise ContentError(
            path, f"parameter name {name!r} may hold only letters, digits and underscores"
        )
    return name


def _named(params: Mapping[str, object], path: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name, value in params.items():
        where = _at(path, str(name))
        key = _parameter_name(name, where)
        label = f"template parameter {{{{{key}}}}}"
        text = _string(value, where, label=label, limit=_MAX_PARAMETER)
        parameters.append({"type": "text", "parameter_name": key, "text": text})
    return parameters


def _template_header(value: object, path: str, *, named: bool | None) -> dict[str, Any]:
    """The header component; ``named`` is whether the body's parameters are (None: no body)."""
    data = _object(
        value, path, ("type", "text", "parameter_name", "url", "media_id"), label="header"
    )
    kind = _one_of(
        data.get("type"), _at(path, "type"), ("text", *_MEDIA_HEADERS), label="header type"
    )
    if kind != "text":
        _object(data, path, ("type", "url", "media_id"), label=f"the {kind} header")
        ref = _media_object(kind, data.get("media_id"), data.get("url"), path, "url")
        return {"type": "header", "parameters": [{"type": kind, kind: ref}]}
    _object(data, path, ("type", "text", "parameter_name"), label="a text header")
    text = _string(
        data.get("text"), _at(path, "text"), label="header text", limit=_MAX_HEADER_PARAMETER
    )
    parameter: dict[str, Any] = {"type": "text", "text": text}
    name_path = _at(path, "parameter_name")
    if data.get("parameter_name") is not None:
        if named is False:
            raise ContentError(name_path, "the body's params are positional; drop the name")
        parameter = {
            "type": "text",
            "parameter_name": _parameter_name(data["parameter_name"], name_path),
            "text": text,
        }
    elif named:
        raise ContentError(name_path, "parameter name is missing; the body's params are named")
    return {"type": "header", "parameters": [parameter]}


# sub_type: (the content's key for its value, its name in errors, Meta's parameter type, limit)
_BUTTON_PARAMETERS: Final[dict[str, tuple[str, str, str, int | None]]] = {
    "url": ("text", "url suffix", "text", None),
    "quick_reply": ("payload", "payload", "payload", None),
    "copy_code": ("code", "coupon code", "coupon_code", _MAX_COUPON_CODE),
}


def _template_buttons(value: object, path: str) -> list[dict[str, Any]]:
    components: list[dict[str, Any]] = []
    indexes: set[str] = set()
    given = _items(value, path, label="buttons", most=_MAX_TEMPLATE_BUTTONS, least=0)
    for position, item in enumerate(given):
        where = _at(path, position)
        data = _object(
            item, where, ("sub_type", "index", "text", "payload", "code"), label="a button"
        )
        sub_type = _one_of(
            data.get("sub_type"),
            _at(where, "sub_type"),
            tuple(_BUTTON_PARAMETERS),
            label="sub_type",
        )
        key, label, parameter_type, limit = _BUTTON_PARAMETERS[sub_type]
        _object(data, where, ("sub_type", "index", key), label=f"a {sub_type} button")
        index = data.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ContentError(_at(where, "index"), f"index must be a number, not {_kind(index)}")
        if not 0 <= index < _MAX_TEMPLATE_BUTTONS:
            raise ContentError(
                _at(where, "index"),
                f"index {index} is out of range 0 to {_MAX_TEMPLATE_BUTTONS - 1}",
            )
        _unique(str(index), indexes, _at(where, "index"), label="index")
        text = _string(data.get(key), _at(where, key), label=label, limit=limit)
        components.append(
            {
                "type": "button",
                "sub_type": sub_type,
                "index": str(index),
                "parameters": [{"type": parameter_type, parameter_type: text}],
            }
        )
    return components


def _components(params: object, header: object, buttons: object, at: str) -> list[dict[str, Any]]:
    """Header, body and button components from the short forms."""
    path = _at(at, "params")
    named: bool | None = None
    body: list[dict[str, Any]] = []
    if isinstance(params, Mapping):
        body, named = _named(params, path), bool(params) or None
    elif isinstance(params, list | tuple):
        body, named = _positional(params, path), False if params else None
    elif params is not None:
        raise ContentError(
            path,
            f"params must be a list of values or an object of named values, not {_kind(params)}",
        )
    components: list[dict[str, Any]] = []
    if header is not None:
        components.append(_template_header(header, _at(at, "header"), named=named))
    if body:
        components.append({"type": "body", "parameters": body})
    if buttons is not None:
        components += _template_buttons(buttons, _at(at, "buttons"))
    return components


def _graph_components(value: object, path: str) -> list[dict[str, Any]]:
    """Components in the Graph API's own form: shape checked, then copied as they are."""
    checked: list[dict[str, Any]] = []
    for index, item in enumerate(_items(value, path, label="components", least=0)):
        where = _at(path, index)
        if not isinstance(item, Mapping):
            raise ContentError(where, f"a component must be an object, not {_kind(item)}")
        kind = _string(item.get("type"), _at(where, "type"), label="component type")
        if kind.lower() not in _COMPONENT_TYPES:
            expected = ", ".join(sorted(_COMPONENT_TYPES))
            raise ContentError(
                _at(where, "type"), f"component type {kind!r} is not one of {expected}"
            )
        if kind.lower() == "button":
            _string(item.get("sub_type"), _at(where, "sub_type"), label="sub_type")
            index_value = item.get("index")
            if isinstance(index_value, bool) or not (
                isinstance(index_value, int)
                or (isinstance(index_value, str) and index_value.isdecimal())
            ):
                raise ContentError(_at(where, "index"), "a button component needs its index")
        if "parameters" in item:
            parameters_path = _at(where, "parameters")
            parameters = _items(item["parameters"], parameters_path, label="parameters", least=0)
            for number, parameter in enumerate(parameters):
                at = _at(parameters_path, number)
                if not isinstance(parameter, Mapping):
                    raise ContentError(at, f"a parameter must be an object, not {_kind(parameter)}")
                _string(parameter.get("type"), _at(at, "type"), label="parameter type")
        checked.append(copy.deepcopy(dict(item)))
    return checked


def _template_body(
    name: object, language: object, components: list[dict[str, Any]], at: str
) -> dict[str, Any]:
    template: dict[str, Any] = {
        "name": _string(name, _at(at, "name"), label="template name"),
        "language": {"code": _string(language, _at(at, "language"), label="template language")},
    }
    if components:
        template["components"] = components
    return template


# --- public builders ------------------------------------------------------------------------


def text_payload(
    to: str, text: str, *, preview_url: bool = False, reply_to: str | None = None
) -> dict[str, Any]:
    """A text message, optionally quoting ``reply_to``; the text must be 1 to 4096 characters."""
    return _message(to, "text", _text_body(text, preview_url, ""), reply_to)


def template_payload(
    to: str,
    name: str,
    language: str,
    components: Sequence[Mapping[str, Any]] = (),
    *,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A template message; ``components`` are in the Graph API's form (shape checked only);
    ``template_components`` makes them from values."""
    body = _template_body(name, language, _graph_components(components, "components"), "")
    return _message(to, "template", body, reply_to)


def template_params_components(params: Sequence[str]) -> list[dict[str, Any]]:
    """Body variables ``{{1}}``, ``{{2}}``… as positional text parameters (order matters)."""
    if isinstance(params, str):  # a lone string is a Sequence[str] too; almost surely a bug
        raise TypeError("params must be a sequence of strings, not a string")
    return _components(list(params), None, None, "")


def template_components(
    *,
    params: Sequence[str] | Mapping[str, str] = (),
    header: Mapping[str, Any] | None = None,
    buttons: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """A template's header, body and button components from values.

    Body ``params`` are positional (a sequence) or named (a mapping, sent with
    ``parameter_name``). ``header`` is ``{"type": "text", "text", "parameter_name"?}`` or
    ``{"type": "image"|"video"|"document", "url"|"media_id"}``. Each of ``buttons`` is
    ``{"sub_type": "url"|"quick_reply"|"copy_code", "index", "text"|"payload"|"code"}``.
    """
    return _components(params, header, buttons, "")


def read_receipt_payload(wamid: str) -> dict[str, Any]:
    """Mark ``wamid`` (and every earlier message of that customer) as read."""
    if not wamid:
        raise ContentError("message_id", "message id is empty")
    return {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}


def reaction_payload(to: str, wamid: str, emoji: str) -> dict[str, Any]:
    """React to ``wamid`` with ``emoji``; an empty emoji removes our reaction."""
    return _message(to, "reaction", _reaction_body(wamid, emoji, ""), None)


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
    return _message(
        to, "location", _location_body(latitude, longitude, name, address, ""), reply_to
    )


def contacts_payload(
    to: str, contacts: Sequence[Mapping[str, Any]], *, reply_to: str | None = None
) -> dict[str, Any]:
    """One to five contact cards in Meta's form: ``name.formatted_name`` is required;
    ``phones``, ``emails``, ``urls``, ``addresses``, ``org`` and ``birthday`` are optional."""
    return _message(to, "contacts", _contacts_body(contacts, ""), reply_to)


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


# --- content forms (CONTRACT.md) ------------------------------------------------------------

_CONTENT: Final = "content"


def _text_content(content: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(content, _CONTENT, ("text", "preview_url"), label="text content")
    return _text_body(data.get("text"), data.get("preview_url", False), _CONTENT)


def _media_content(kind: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    keys = ("url", "media_id", "caption", "filename")

    def build(content: Mapping[str, Any]) -> dict[str, Any]:
        data = _object(content, _CONTENT, keys, label=f"{kind} content")
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
    data = _object(
        content, _CONTENT, ("latitude", "longitude", "name", "address"), label="location content"
    )
    return _location_body(
        data.get("latitude"), data.get("longitude"), data.get("name"), data.get("address"), _CONTENT
    )


def _contacts_content(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = _object(content, _CONTENT, ("contacts",), label="contacts content")
    return _contacts_body(data.get("contacts"), _CONTENT)


def _reaction_content(content: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(content, _CONTENT, ("message_id", "emoji"), label="reaction content")
    return _reaction_body(data.get("message_id"), data.get("emoji"), _CONTENT)


_INTERACTIVE_KEYS: Final = {
    "button": ("buttons",),
    "list": ("button", "sections"),
    "cta_url": ("display_text", "url"),
}


def _interactive_content(content: Mapping[str, Any]) -> dict[str, Any]:
    common = ("type", "body", "header", "footer")
    every = {key for keys in _INTERACTIVE_KEYS.values() for key in keys}
    data = _object(content, _CONTENT, (*common, *every), label="interactive content")
    kind = _one_of(
        data.get("type"), _at(_CONTENT, "type"), tuple(_INTERACTIVE_KEYS), label="interactive type"
    )
    data = _object(data, _CONTENT, (*common, *_INTERACTIVE_KEYS[kind]), label=f"{kind} content")
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
    data = _object(
        content, _CONTENT, ("name", "language", "components", *short), label="template content"
    )
    if data.get("components") is not None:
        if any(data.get(key) is not None for key in short):
            raise ContentError(
                _at(_CONTENT, "components"),
                "give either components (the Graph API's form) or params, header and buttons",
            )
        components = _graph_components(data["components"], _at(_CONTENT, "components"))
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
    if not _blank(reply_to):
        _string(reply_to, "reply_to", label="reply_to")
        if message_type == "reaction":
            raise ContentError(
                "reply_to", "a reaction cannot quote a message; content.message_id names its target"
            )
    if not isinstance(content, Mapping):
        raise ContentError(_CONTENT, f"content must be an object, not {_kind(content)}")
    return _message(to, message_type, build(content), reply_to or None)
