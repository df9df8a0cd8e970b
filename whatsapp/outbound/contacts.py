"""Contact cards (``contacts`` messages): names, phones, emails, addresses, birthdays."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
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
    _url,
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


def contacts_payload(
    to: str, contacts: Sequence[Mapping[str, Any]], *, reply_to: str | None = None
) -> dict[str, Any]:
    """One to five contact cards in Meta's form: ``name.formatted_name`` is required;
    ``phones``, ``emails``, ``urls``, ``addresses``, ``org`` and ``birthday`` are optional."""
    return _message(to, "contacts", _contacts_body(contacts, ""), reply_to)
