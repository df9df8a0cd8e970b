"""What the bridge reports for ``/metrics`` as it happens, as ports: the adapters report every
call they make to Slack and Meta, the use cases how long a message took to cross the bridge
and which webhooks could not cross it.

Per process and in memory (a lost count is harmless); counts every process must agree on
live in the database instead (``CounterRepository``). ``Unobserved`` reports nowhere.
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["Api", "CallObserver", "RelayObserver", "Unobserved"]


class Api(enum.StrEnum):
    SLACK = "slack"
    META = "meta"


class CallObserver(Protocol):
    def api_call(self, *, api: Api, method: str, outcome: str, rate_limited: bool) -> None:
        """One call made: ``method`` as the API names it, ``outcome`` ``ok`` or the error
        code (Slack's ``error``, Meta's numeric code, ``http_500``, ``connection``...);
        ``rate_limited`` for an HTTP 429 or Meta's throughput refusals."""
        ...


class RelayObserver(Protocol):
    def relayed_inbound(self, seconds: float) -> None:
        """A customer's message reached Slack this long after its webhook was stored."""
        ...

    def relayed_outbound(self, seconds: float) -> None:
        """Meta accepted an agent's reply this long after the agent posted it in Slack."""
        ...

    def webhook_dead_lettered(self) -> None:
        """A signed webhook could not be parsed: kept as a dead letter (Meta heard 200)."""
        ...


class Unobserved:
    """Reports nothing: the default wherever nobody watches (tests, ``wabridge doctor``)."""

    def api_call(self, *, api: Api, method: str, outcome: str, rate_limited: bool) -> None:
        pass

    def relayed_inbound(self, seconds: float) -> None:
        pass

    def relayed_outbound(self, seconds: float) -> None:
        pass

    def webhook_dead_lettered(self) -> None:
        pass
