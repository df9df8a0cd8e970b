"""What every outbound body checks: the field errors, and the checks of strings, URLs and
lists each builder shares; the recipient's number and the message envelope. The checks are
this package's own: its builders import them, nothing outside the package does."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

_PHONE_LIKE: Final = re.compile(r"^\+?[\d\s().-]+$")


_SEPARATORS: Final = re.compile(r"[\s().-]")


class ContentError(ValueError):
    """Bad content for a message type; ``field`` is the path of the offending field, e.g.
    ``"content.buttons[3].title"``, and ``message`` says what is wrong in plain words."""

    field: str
    message: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def field_path(path: str, key: str | int) -> str:
    """The path of ``key`` inside ``path``: ``content.buttons[0].title``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def kind_of(value: object) -> str:
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


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def object_field(
    value: object, path: str, allowed: Collection[str], *, label: str
) -> Mapping[str, Any]:
    """``value`` as a mapping holding no key beyond ``allowed`` (a typo is not ignored)."""
    if value is None:
        raise ContentError(path, f"{label} is missing")
    if not isinstance(value, Mapping):
        raise ContentError(path, f"{label} must be an object, not {kind_of(value)}")
    for key in value:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise ContentError(
                field_path(path, str(key)), f"unknown field; {label} takes {expected}"
            )
    return value


def string_field(value: object, path: str, *, label: str, limit: int | None = None) -> str:
    """``value`` as a non-blank string of at most ``limit`` characters."""
    if value is None:
        raise ContentError(path, f"{label} is missing")
    if not isinstance(value, str):
        raise ContentError(path, f"{label} must be a string, not {kind_of(value)}")
    if not value.strip():
        raise ContentError(path, f"{label} is empty")
    if limit is not None and len(value) > limit:
        raise ContentError(path, f"{label} is {len(value)} characters; WhatsApp allows {limit}")
    return value


def optional_string(
    value: object, path: str, *, label: str, limit: int | None = None
) -> str | None:
    """Like ``string_field``, but absent (``None`` or blank) gives ``None``."""
    return None if is_blank(value) else string_field(value, path, label=label, limit=limit)


def items_field(
    value: object, path: str, *, label: str, most: int | None = None, least: int = 1
) -> list[Any]:
    """``value`` as a list of ``least`` to ``most`` (None: any number of) entries."""
    if value is None:
        raise ContentError(path, f"{label} is missing")
    if not isinstance(value, list | tuple):
        raise ContentError(path, f"{label} must be a list, not {kind_of(value)}")
    if len(value) < least:
        raise ContentError(path, f"{label} is empty; WhatsApp needs at least {least}")
    if most is not None and len(value) > most:
        raise ContentError(path, f"{label} has {len(value)} entries; WhatsApp allows {most}")
    return list(value)


def flag_field(value: object, path: str, *, label: str) -> bool:
    if not isinstance(value, bool):
        raise ContentError(path, f"{label} must be true or false, not {kind_of(value)}")
    return value


def url_field(value: object, path: str, *, label: str) -> str:
    """``value`` as an absolute http or https link."""
    link = string_field(value, path, label=label)
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ContentError(path, f"{label} must be an http:// or https:// link")
    return link


def choice_field(value: object, path: str, choices: Sequence[str], *, label: str) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = repr(value) if isinstance(value, str) else kind_of(value)
        expected = ", ".join(choices)
        if value is None:
            raise ContentError(path, f"{label} is missing; expected one of {expected}")
        raise ContentError(path, f"{label} {shown} is not one of {expected}")
    return value


def ensure_unique(value: str, seen: set[str], path: str, *, label: str) -> None:
    if value in seen:
        raise ContentError(path, f"{label} {value!r} is used twice; each must be unique")
    seen.add(value)


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


def message_body(to: str, kind: str, body: Any, reply_to: str | None) -> dict[str, Any]:
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
