"""Payloads shaped like the Meta Graph API's: error envelopes, inbound and status webhooks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "account_change_webhook",
    "error_envelope",
    "fbtrace_id",
    "messages_webhook",
    "new_wamid",
    "sign_body",
    "status_error",
    "status_object",
    "statuses_webhook",
    "text_message",
]

_counter = itertools.count(1)
_ALPHABET = string.ascii_letters + string.digits


def fbtrace_id() -> str:
    """A random trace id like the ones Meta puts in every error."""
    return "A" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


def new_wamid(prefix: str = "SIM") -> str:
    """A unique WhatsApp message id (`wamid.` + opaque text, like Meta's)."""
    return f"wamid.HBgL{prefix}{next(_counter):08d}{secrets.token_hex(8).upper()}"


def sign_body(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value of `body`."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def error_envelope(code: int, title: str, details: str = "") -> dict[str, Any]:
    """Meta's error body: `{"error": {"message": "(#code) title", ...}}`."""
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": fbtrace_id(),
        }
    }


def _epoch(timestamp: int | None) -> str:
    return str(int(time.time()) if timestamp is None else timestamp)


def text_message(
    *, from_wa_id: str, text: str, timestamp: int | None = None, wamid: str | None = None
) -> dict[str, Any]:
    """One inbound `messages[]` entry of type text."""
    return {
        "from": from_wa_id,
        "id": wamid or new_wamid("IN"),
        "timestamp": _epoch(timestamp),
        "text": {"body": text},
        "type": "text",
    }


def _envelope(waba_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }


def _metadata(display_phone_number: str, phone_number_id: str) -> dict[str, str]:
    return {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}


def messages_webhook(
    *,
    waba_id: str,
    display_phone_number: str,
    phone_number_id: str,
    contacts: Sequence[tuple[str, str]],
    messages: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A `messages` webhook with `contacts` as (wa_id, profile name) and messages in order."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": _metadata(display_phone_number, phone_number_id),
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in contacts],
        "messages": [dict(m) for m in messages],
    }
    return _envelope(waba_id, value)


def status_object(
    *,
    wamid: str,
    status: str,
    recipient_id: str,
    timestamp: int | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
) -> dict[str, Any]:
    """One `statuses[]` entry; `failed` carries `errors`, others carry pricing like v23."""
    obj: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": _epoch(timestamp),
        "recipient_id": recipient_id,
    }
    if biz_opaque_callback_data is not None:
        obj["biz_opaque_callback_data"] = biz_opaque_callback_data
    if errors:
        obj["errors"] = [dict(e) for e in errors]
    elif status in ("sent", "delivered"):
        obj["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    return obj


def statuses_webhook(
    *,
    waba_id: str,
    display_phone_number: str,
    phone_number_id: str,
    statuses: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A `messages` webhook carrying `statuses[]`."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": _metadata(display_phone_number, phone_number_id),
        "statuses": [dict(s) for s in statuses],
    }
    return _envelope(waba_id, value)


def status_error(code: int, title: str, message: str, details: str) -> dict[str, Any]:
    """One `errors[]` entry of a failed status."""
    return {
        "code": code,
        "title": title,
        "message": message,
        "error_data": {"details": details},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def account_change_webhook(
    *, waba_id: str, field: str, value: Mapping[str, Any], time_: int | None = None
) -> dict[str, Any]:
    """A webhook about the account or a number (``account_update``,
    ``phone_number_quality_update``): ``entry.id`` is the WABA, no ``metadata``."""
    entry = {
        "id": waba_id,
        "time": int(time.time()) if time_ is None else time_,
        "changes": [{"value": dict(value), "field": field}],
    }
    return {"object": "whatsapp_business_account", "entry": [entry]}
