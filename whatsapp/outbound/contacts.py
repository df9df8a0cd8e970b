"""Contact cards (``contacts`` messages): names, phones, emails, addresses, birthdays."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Final

from whatsapp.outbound.fields import (
    ContentError,
    choice_field,
    field_path,
    is_blank,
    items_field,
    message_body,
    object_field,
    optional_string,
    string_field,
    url_field,
)

# Contacts: the file's ContactsMessage allows 1 to 5 cards; types are its enums.
_MAX_CONTACTS: Final = 5


_CONTACT_TYPES: Final = ("HOME", "WORK")


_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+$")


_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_CONTACT_KEYS: Final = ("name", "birthday", "phones", "emails", "org", "urls", "addresses")


_NAME_KEYS: Final = ("formatted_name", "first_name", "last_name", "middle_name", "prefix", "suffix")


_ORG_KEYS: Final = ("company", "department", "title")


_ADDRESS_KEYS: Final = ("street", "city", "state", "zip", "country", "country_code")


def _strings(data: Mapping[str, Any], keys: Sequence[str], path: str) -> dict[str, str]:
    """The optional string fields ``keys`` of ``data`` that are given."""
    found: dict[str, str] = {}
    for key in keys:
        text = optional_string(data.get(key), field_path(path, key), label=key.replace("_", " "))
        if text is not None:
            found[key] = text
    return found


def _contact_type(value: object, path: str) -> str | None:
    if is_blank(value):
        return None
    upper = value.upper() if isinstance(value, str) else value
    return choice_field(upper, path, _CONTACT_TYPES, label="type")


def _typed_entries(
    value: object, path: str, *, key: str, check: Callable[[object, str], str]
) -> list[dict[str, str]]:
    """A contact's phones, emails or urls: each ``{key, "type"?}`` (phones also ``wa_id``)."""
    extra = ("wa_id",) if key == "phone" else ()
    entries: list[dict[str, str]] = []
    for index, item in enumerate(items_field(value, path, label=f"{key}s", least=0)):
        where = field_path(path, index)
        data = object_field(item, where, (key, "type", *extra), label=key)
        entry = {key: check(data.get(key), field_path(where, key))}
        kind = _contact_type(data.get("type"), field_path(where, "type"))
        if kind is not None:
            entry["type"] = kind
        entry.update(_strings(data, extra, where))
        entries.append(entry)
    return entries


def _phone(value: object, path: str) -> str:
    return string_field(value, path, label="phone")


def _email(value: object, path: str) -> str:
    email = string_field(value, path, label="email")
    if not _EMAIL.match(email.strip()):
        raise ContentError(path, f"email {email!r} is not an email address")
    return email


def _contact_url(value: object, path: str) -> str:
    return url_field(value, path, label="url")


def _contact(value: object, path: str) -> dict[str, Any]:
    data = object_field(value, path, _CONTACT_KEYS, label="a contact")
    name_path = field_path(path, "name")
    name = object_field(data.get("name"), name_path, _NAME_KEYS, label="name")
    formatted = string_field(
        name.get("formatted_name"), field_path(name_path, "formatted_name"), label="formatted name"
    )
    contact: dict[str, Any] = {
        "name": {"formatted_name": formatted, **_strings(name, _NAME_KEYS[1:], name_path)}
    }
    birthday = optional_string(data.get("birthday"), field_path(path, "birthday"), label="birthday")
    if birthday is not None:
        contact["birthday"] = _birthday(birthday, field_path(path, "birthday"))
    for key, entry_key, check in (
        ("phones", "phone", _phone),
        ("emails", "email", _email),
        ("urls", "url", _contact_url),
    ):
        if data.get(key) is not None:
            entries = _typed_entries(data[key], field_path(path, key), key=entry_key, check=check)
            if entries:
                contact[key] = entries
    if data.get("org") is not None:
        org_path = field_path(path, "org")
        org = _strings(
            object_field(data["org"], org_path, _ORG_KEYS, label="org"), _ORG_KEYS, org_path
        )
        if org:
            contact["org"] = org
    if data.get("addresses") is not None:
        addresses_path = field_path(path, "addresses")
        addresses = items_field(data["addresses"], addresses_path, label="addresses", least=0)
        contact["addresses"] = [
            _address(item, field_path(addresses_path, index))
            for index, item in enumerate(addresses)
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
    data = object_field(value, path, (*_ADDRESS_KEYS, "type"), label="an address")
    address = _strings(data, _ADDRESS_KEYS, path)
    if not address:
        raise ContentError(path, "address is empty; give at least a street, city or country")
    kind = _contact_type(data.get("type"), field_path(path, "type"))
    if kind is not None:
        address["type"] = kind
    return address


def _contacts_body(contacts: object, at: str) -> list[dict[str, Any]]:
    path = field_path(at, "contacts")
    if isinstance(contacts, Mapping):  # one card given alone: a list of one is meant
        raise ContentError(path, "contacts must be a list of contact cards, not one object")
    cards = items_field(contacts, path, label="contacts", most=_MAX_CONTACTS)
    return [_contact(card, field_path(path, index)) for index, card in enumerate(cards)]


def contacts_payload(
    to: str, contacts: Sequence[Mapping[str, Any]], *, reply_to: str | None = None
) -> dict[str, Any]:
    """One to five contact cards in Meta's form: ``name.formatted_name`` is required;
    ``phones``, ``emails``, ``urls``, ``addresses``, ``org`` and ``birthday`` are optional."""
    return message_body(to, "contacts", _contacts_body(contacts, ""), reply_to)
