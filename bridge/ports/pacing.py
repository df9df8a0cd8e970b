"""Rate limits the other side reported, honoured by every process (the adapters ask)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Holds"]


class Holds(Protocol):
    """Holds on kinds of calls (``scope``: a Slack method or channel, a business number),
    stored so that every process honours them, not only the one that was refused."""

    async def remaining(self, *scopes: str) -> float:
        """Seconds until none of ``scopes`` is held any more (0.0: free now)."""
        ...

    async def hold(self, scope: str, *, seconds: float, reason: str) -> None:
        """Hold ``scope`` for ``seconds`` from now, in every process."""
        ...
