"""Slack's requests to us (events, commands, interactivity), handed to bolt as plain bytes.

The web layer reads the body itself, with the same size cap as Meta's webhooks, before
anything is buffered whole; this thin translator is all bolt needs beyond that.

One answer is changed on the way out: when bolt cannot check the bot token (its ``auth.test``
on a process's first request failed, say with a ``500`` or ``429`` from Slack), it answers
``200`` with an apology and drops the request, and Slack would never send it again. The
bridge answers ``503`` instead, so that Slack retries the event and no reply is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest

__all__ = ["AUTHORIZE_FAILED", "SlackAnswer", "SlackEndpoint"]

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

    def __init__(self, app: AsyncApp) -> None:
        self._app = app

    async def __call__(self, body: bytes, headers: Mapping[str, str], query: str) -> SlackAnswer:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return SlackAnswer(400, "body is not UTF-8")
        response = await self._app.async_dispatch(
            AsyncBoltRequest(body=text, query=query, headers=dict(headers))
        )
        if response.body == AUTHORIZE_FAILED:
            return SlackAnswer(503, AUTHORIZE_FAILED, {"Retry-After": "1"})
        return SlackAnswer(
            response.status, response.body, dict(response.first_headers_without_set_cookie())
        )
