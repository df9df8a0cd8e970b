"""Slack users' display names, for mentions in replies that go to customers."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["SlackUserNames"]

log = logging.getLogger(__name__)


class SlackUserNames:
    """Display names of Slack users through users.info, cached.

    A name is kept for ``ttl`` seconds. A user Slack cannot name, or a failed call, is
    remembered as None for ``miss_ttl`` seconds only, so that an outage costs one slow call
    per user rather than one per message, yet ends soon. The cache keeps at most
    ``max_entries`` users and forgets the oldest first.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = 3600.0,
        miss_ttl: float = 60.0,
        max_entries: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_entries = max_entries
        self._clock = clock
        # user id -> (expires at, name); oldest first.
        self._cache: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    async def display_name(self, user_id: str) -> str | None:
        """The name Slack shows for the user, or None when it cannot be found out."""
        now = self._clock()
        cached = self._cache.get(user_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        name = await self._fetch(user_id)
        self._remember(user_id, name, now)
        return name

    async def _fetch(self, user_id: str) -> str | None:
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            self._warn(user_id, str(exc.response.get("error") or "unknown_error"))
            return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._warn(user_id, type(exc).__name__)
            return None
        user = response.get("user")
        return _name_of(user) if isinstance(user, Mapping) else None

    def _remember(self, user_id: str, name: str | None, now: float) -> None:
        expires_at = now + (self._ttl if name is not None else self._miss_ttl)
        self._cache[user_id] = (expires_at, name)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    @staticmethod
    def _warn(user_id: str, error: str) -> None:
        # Only the error code: the exception's text carries the whole response.
        log.warning(
            "users.info failed for %s: %s",
            user_id,
            error,
            extra={"slack_user": user_id, "error": error},
        )


def _name_of(user: Mapping[str, Any]) -> str | None:
    profile = user.get("profile")
    profile = profile if isinstance(profile, Mapping) else {}
    for name in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None
