"""Opaque page cursors: where the previous page ended, as URL-safe base64 of a little JSON.

A conversations cursor holds the sort key of the page's last row, ``["c", last_message_at,
id]``; a messages cursor ``["m", conversation_id, id]``. Keyset pagination: a page starts
strictly after that key, so rows added meanwhile never shift or repeat a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Final

from bridge.ports import ConversationKey

__all__ = [
    "MAX_ID",
    "CursorError",
    "conversation_cursor",
    "message_cursor",
    "read_conversation_cursor",
    "read_message_cursor",
]

#: Ids are 64-bit signed on every engine.
MAX_ID: Final = 2**63 - 1
#: Cursors are short; anything longer was not made here.
_MAX_LENGTH: Final = 200


class CursorError(ValueError):
    """A cursor this API did not give out (or for another list)."""


def _encode(value: list[Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, kind: str) -> list[Any]:
    if len(cursor) > _MAX_LENGTH:
        raise CursorError("not a cursor this API gave out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise CursorError("not a cursor this API gave out") from None
    if not isinstance(value, list) or not value or value[0] != kind:
        raise CursorError("not a cursor of this list")
    return value[1:]


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise CursorError("not a cursor this API gave out")
    return value


def conversation_cursor(key: ConversationKey) -> str:
    at = key.last_message_at.isoformat() if key.last_message_at is not None else None
    return _encode(["c", at, key.id])


def read_conversation_cursor(cursor: str) -> ConversationKey:
    fields = _decode(cursor, "c")
    if len(fields) != 2 or not (fields[0] is None or isinstance(fields[0], str)):
        raise CursorError("not a cursor this API gave out")
    at: datetime | None = None
    if fields[0] is not None:
        try:
            at = datetime.fromisoformat(fields[0])
        except ValueError:
            raise CursorError("not a cursor this API gave out") from None
        if at.tzinfo is None:
            raise CursorError("not a cursor this API gave out")
    return ConversationKey(last_message_at=at, id=_id(fields[1]))


def message_cursor(conversation_id: int, message_id: int) -> str:
    return _encode(["m", conversation_id, message_id])


def read_message_cursor(cursor: str, conversation_id: int) -> int:
    """The id the page starts after; a cursor of another conversation's messages is refused."""
    fields = _decode(cursor, "m")
    if len(fields) != 2 or _id(fields[0]) != conversation_id:
        raise CursorError("not a cursor of this conversation's messages")
    return _id(fields[1])
