"""Slack's requests to us (events, commands, interactivity), handed to bolt as plain bytes.

The web layer reads the body itself, with the same size cap as Meta's webhooks, before
anything is buffered whole. Here the signature and its timestamp are checked first, on the
raw bytes, so that nothing unsigned (or signed more than five minutes ago: a replay) is ever
parsed; bolt checks them again, and would otherwise parse first and fail on a malformed
timestamp or body with an exception instead of an answer.

A bot's post coming back as an event (each of the bridge's own posts does) is acked here,
before bolt: no listener acts on one (``a_bots_post``), and bolt's dispatch of it was a
twentieth of the process's work while it relays a steady load.

One answer is changed on the way out: when bolt cannot check the bot token (its ``auth.test``
on a process's first request failed, say with a ``500`` or ``429`` from Slack), it answers
``200`` with an apology and drops the request, and Slack would never send it again. The
bridge answers ``503`` instead, so that Slack retries the event and no reply is lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest

from slack_app.listeners.messages import a_bots_post

__all__ = ["AUTHORIZE_FAILED", "MAX_REQUEST_AGE", "SlackAnswer", "SlackEndpoint"]

log = logging.getLogger(__name__)

#: Slack's own rule: a request signed longer ago than this (or as far ahead) is a replay.
MAX_REQUEST_AGE: Final = 5 * 60

#: What bolt answers when it could not check the token (given to ``AsyncApp`` so that the
#: endpoint knows the answer when it sees it).
AUTHORIZE_FAILED = "wabridge: the Slack token could not be checked just now; retry later"


@dataclass(frozen=True, slots=True)
class SlackAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class SlackEndpoint:
    """Verifies, acks and dispatches one request from Slack through the bolt app."""

    def __init__(
        self, app: AsyncApp, *, signing_secret: str, now: Callable[[], float] = time.time
    ) -> None:
        self._app = app
        self._key = signing_secret.encode()
        self._now = now

    def _signed(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Slack's ``v0`` HMAC over the raw bytes, from a moment near enough to now."""
        lowered = {name.lower(): value for name, value in headers.items()}
        timestamp = lowered.get("x-slack-request-timestamp", "").strip()
        signature = lowered.get("x-slack-signature", "").strip()
        if not timestamp.isascii() or not timestamp.isdigit() or not signature.isascii():
            return False
        if abs(self._now() - int(timestamp)) > MAX_REQUEST_AGE:
            return False
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._key, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    async def __call__(self, body: bytes, headers: Mapping[str, str], query: str) -> SlackAnswer:
        if not self._signed(body, headers):
            log.info("slack request refused: unsigned, wrongly signed or too old")
            return SlackAnswer(401, '{"error": "invalid request"}')
        if b'"bot_id"' in body and a_bots_post(_json(body)):
            return SlackAnswer(200, "")  # what bolt and the listeners would answer
        try:
            request = AsyncBoltRequest(
                body=body.decode("utf-8"), query=query, headers=dict(headers)
            )
        # Not UTF-8, not JSON, or JSON that is not an object (bolt reads it as one).
        except (ValueError, AttributeError, TypeError) as error:
            log.warning("signed slack request not readable: %s", type(error).__name__)
            return SlackAnswer(400, '{"error": "body is not readable"}')
        response = await self._app.async_dispatch(request)
        if response.body == AUTHORIZE_FAILED:
            return SlackAnswer(503, AUTHORIZE_FAILED, {"Retry-After": "1"})
        return SlackAnswer(
            response.status, response.body, dict(response.first_headers_without_set_cookie())
        )


def _json(body: bytes) -> object:
    """The body read as JSON; None if it is not (a form, not UTF-8: bolt answers those)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
