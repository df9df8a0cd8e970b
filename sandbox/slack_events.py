"""Requests Slack sends to an app (signed Events API callbacks, slash commands, interactivity),
and `Delivery`, the app's answer to one."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.slack_socket import SocketEnvelope

__all__ = [
    "API_APP_ID",
    "VERIFICATION_TOKEN",
    "Delivery",
    "button_action",
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


def button_action(action_id: str, block_id: str, value: str) -> dict[str, Any]:
    """One clicked button as `block_actions` payloads list it under `actions`."""
    return {
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_id, "emoji": True},
        "value": value,
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }


@dataclass(frozen=True)
class Delivery:
    """The app's answer to a request the simulator played: an HTTP response or a Socket Mode ack.

    In Socket Mode `status` is 200 once acked (0 if no ack came in time) and `content` is the
    ack's payload as JSON (empty without one), so `.json()` reads the answer in both modes.
    """

    status: int
    content: bytes
    response: httpx.Response | None = field(default=None, compare=False, repr=False)
    envelope: SocketEnvelope | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of_response(cls, response: httpx.Response) -> Delivery:
        """The answer the app gave over HTTP."""
        return cls(response.status_code, response.content, response=response)

    @classmethod
    def of_envelope(cls, envelope: SocketEnvelope) -> Delivery:
        """The answer the app gave by acking a Socket Mode envelope."""
        payload = envelope.ack_payload
        content = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        return cls(200 if envelope.acked else 0, content, envelope=envelope)

    @property
    def status_code(self) -> int:
        """Same as `status`, named like httpx's."""
        return self.status

    @property
    def headers(self) -> httpx.Headers:
        """The HTTP response headers (none in Socket Mode)."""
        return httpx.Headers() if self.response is None else self.response.headers

    @property
    def text(self) -> str:
        """The answer's body as text."""
        return self.content.decode()

    def json(self) -> Any:
        """The answer's body parsed as JSON (raises ValueError when empty)."""
        return json.loads(self.content)

    @property
    def payload(self) -> dict[str, Any] | None:
        """The answer as a JSON object; None when empty or not an object."""
        try:
            data = json.loads(self.content) if self.content else None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
