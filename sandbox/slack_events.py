"""Requests Slack sends to an app: signed Events API callbacks, slash commands, interactivity."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "API_APP_ID",
    "VERIFICATION_TOKEN",
    "event_callback",
    "form_body",
    "human_blocks",
    "interactivity_body",
    "new_event_id",
    "new_trigger_id",
    "signed_headers",
    "slack_signature",
]

API_APP_ID = "ASIMAPP"
VERIFICATION_TOKEN = "simverificationtoken"
_ALNUM = string.ascii_uppercase + string.digits


def new_event_id() -> str:
    """A unique Events API id such as `Ev08ABCDEF12`."""
    return "Ev" + "".join(secrets.choice(_ALNUM) for _ in range(10))


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (`<digits>.<digits>.<hex>`)."""
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    signing_secret: str, body: bytes, content_type: str, timestamp: int | None = None
) -> dict[str, str]:
    """Headers of a request from Slack, signed over `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(signing_secret, ts, body),
    }


def human_blocks(text: str) -> list[dict[str, Any]]:
    """The `rich_text` block Slack clients attach to a typed message."""
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def event_callback(
    event: Mapping[str, Any], *, team_id: str, bot_user_id: str, event_id: str | None = None
) -> dict[str, Any]:
    """An Events API `event_callback` envelope around `event`."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": API_APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def form_body(fields: Mapping[str, Any]) -> bytes:
    """An `application/x-www-form-urlencoded` body (slash commands)."""
    return urlencode({k: "" if v is None else str(v) for k, v in fields.items()}).encode()


def interactivity_body(payload: Mapping[str, Any]) -> bytes:
    """The form body `payload=<json>` of an interactivity request."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
