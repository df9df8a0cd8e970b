"""HTTP clients the simulators use to call the bridge: one async for background work, one sync."""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import httpx

__all__ = ["Outbox", "SyncSender", "wait_for"]

TIMEOUT = httpx.Timeout(10.0)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~60 ms); share one so starting a simulator and
    # making its first delivery stay fast.
    return ssl.create_default_context()


class Outbox:
    """Background tasks of a simulator's event loop sharing one async HTTP client."""

    def __init__(self) -> None:
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        self.client = httpx.AsyncClient(timeout=TIMEOUT, trust_env=False, verify=_ssl_context())
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` in the background; a reference is kept so it is not garbage collected."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """How many background tasks have not finished yet."""
        return len(self._tasks)

    async def post(
        self, url: str, content: bytes, headers: Mapping[str, str]
    ) -> httpx.Response | None:
        """POST once; None on a network error."""
        try:
            return await self.client.post(url, content=content, headers=dict(headers))
        except httpx.HTTPError:
            return None

    async def aclose(self) -> None:
        """Cancel pending work and close the client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()


class SyncSender:
    """A lazily created, thread-safe sync client, reused so repeated posts stay cheap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST `content` to `url` and return the response (network errors propagate)."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=TIMEOUT, trust_env=False, verify=_ssl_context())
            client = self._client
        return client.post(url, content=content, headers=dict(headers))

    def close(self) -> None:
        """Close the client; a later post opens a new one."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
