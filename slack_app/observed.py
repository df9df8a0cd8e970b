"""The Slack Web API client, reporting every call's outcome (for ``/metrics``).

Every method of ``AsyncWebClient`` goes through ``api_call``, so the surface's posts, the
user-name lookups and Socket Mode's connection are all counted here, in one place.

Its calls share one HTTP session with kept-alive connections: without one, the SDK opens a
session, and a new connection, for every call (a TCP and TLS handshake before each post).
"""

from __future__ import annotations

from typing import Any, Self

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bridge.ports import Api, CallObserver

__all__ = ["ObservedWebClient"]


class ObservedWebClient(AsyncWebClient):
    """``AsyncWebClient`` that tells ``calls`` the outcome of each call: ``ok``, Slack's
    ``error`` (``ratelimited`` for a 429, ``http_NNN`` without one), or ``connection``."""

    def __init__(self, *, calls: CallObserver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calls = calls

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if self.session is None or self.session.closed:
            # Made on the first call, inside the running loop, as aiohttp wants; the SDK's
            # own retry of a call whose connection was closed under it still applies.
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=self.trust_env_in_session,
            )
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            status = error.response.status_code
            code = "ratelimited" if status == 429 else str(error.response.get("error", ""))
            self._report(api_method, code or f"http_{status}", rate_limited=status == 429)
            raise
        except (aiohttp.ClientError, TimeoutError):
            self._report(api_method, "connection")
            raise
        self._report(api_method, "ok")
        return response

    async def aclose(self) -> None:
        """Close the shared session (when the process stops)."""
        if self.session is not None:
            await self.session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _report(self, method: str, outcome: str, *, rate_limited: bool = False) -> None:
        self._calls.api_call(
            api=Api.SLACK, method=method, outcome=outcome, rate_limited=rate_limited
        )
