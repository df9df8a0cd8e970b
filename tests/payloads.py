"""Meta-shaped webhook payloads for tests (the shape of shared/meta/samples)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

PHONE_NUMBER_ID = "1000000001"
DISPLAY_NUMBER = "15550001111"


def _value(
    *, number: tuple[str, str] = (PHONE_NUMBER_ID, DISPLAY_NUMBER), **parts: Any
) -> dict[str, Any]:
    phone_number_id, display = number
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id},
        **parts,
    }


def envelope(*values: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": v} for v in values]}],
    }


def text(wamid: str, body: str, *, at: datetime, wa_id: str = "4915112345678") -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(int(at.timestamp())),
        "type": "text",
        "text": {"body": body},
    }


def messages(
    *items: dict[str, Any],
    name: str = "Ada",
    wa_id: str = "4915112345678",
    number: tuple[str, str] = (PHONE_NUMBER_ID, DISPLAY_NUMBER),
) -> bytes:
    """A messages webhook; ``number`` is the business number written to (id, phone number)."""
    contacts = [{"profile": {"name": name}, "wa_id": wa_id}]
    value = _value(number=number, contacts=contacts, messages=list(items))
    return json.dumps(envelope(value)).encode()


def status(
    wamid: str,
    state: str,
    *,
    at: datetime,
    error: tuple[int, str] | None = None,
    pricing: dict[str, Any] | None = None,
) -> bytes:
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(int(at.timestamp())),
        "recipient_id": "4915112345678",
    }
    if pricing is not None:
        item["pricing"] = pricing
    if error is not None:
        code, title = error
        item["errors"] = [
            {"code": code, "title": title, "message": title, "error_data": {"details": title}}
        ]
    return json.dumps(envelope(_value(statuses=[item]))).encode()


def account_change(field: str, value: dict[str, Any], *, time: int = 1764244800) -> bytes:
    """An ``account_update`` or ``phone_number_quality_update`` webhook (``entry.id``: the WABA)."""
    entry = {"id": "WABA1", "time": time, "changes": [{"field": field, "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
