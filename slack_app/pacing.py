"""Slack's pace: posts per channel, every method by its tier, and the holds Slack asked for.

Slack limits each Web API method per workspace by its *tier* (Tier 1 about 1 call a minute,
Tier 2 about 20, Tier 3 about 50, Tier 4 about 100, each with some burst), and posting
messages (``chat.postMessage``, a "special" method) to about one per second per channel,
with short bursts. Before each call ``SlackPacing.before`` waits for the method's bucket and,
for a post, the channel's: in this process's memory, an optimisation only.

What every process honours is a ``429``: its ``Retry-After`` is stored as a hold
(``bridge.ports.Holds``) on the method, or on the channel for a post, and a held call is not
made at all: it fails at once as throttled, and the worker retries its job when the hold
ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from bridge.domain import FailureKind
from bridge.errors import ChatError
from bridge.pacing import UNPACED, Pacer, Rate
from bridge.ports import Holds

__all__ = [
    "DEFAULT_TIER",
    "METHOD_TIERS",
    "POSTING",
    "POST_RATE",
    "TIERS_PER_MINUTE",
    "SlackPacing",
    "SlackRates",
    "tier_rate",
    "tier_rates",
]

#: The tier of each method the surface calls, from Slack's method reference.
METHOD_TIERS: Final[Mapping[str, int]] = {
    "chat.update": 3,
    "reactions.add": 3,
    "reactions.remove": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
}
#: A method not in the table is taken as Tier 2, where Slack puts most methods.
DEFAULT_TIER: Final = 2
#: Methods that put a message in a channel: paced per channel too, and held per channel.
POSTING: Final = frozenset({"chat.postMessage", "files.completeUploadExternal"})
#: Special-tier methods, paced per channel only (Slack's workspace-wide limit on them is
#: far above what one support channel posts, and a 429 from it is honoured as any other).
_CHANNEL_ONLY: Final = frozenset({"chat.postMessage"})
#: A tier's bucket holds this share of a minute's calls: the short bursts Slack tolerates.
_TIER_BURST_SHARE: Final = 5


def tier_rate(per_minute: float) -> Rate:
    """A tier's rate: ``per_minute`` calls a minute, a fifth of them at once (at least one)."""
    if per_minute <= 0:
        return UNPACED
    return Rate.per_minute(per_minute, burst=max(1, round(per_minute / _TIER_BURST_SHARE)))


def tier_rates(per_minute: Sequence[float]) -> dict[int, Rate]:
    """Tiers 1 to 4 from their calls a minute, in that order."""
    if len(per_minute) != 4:
        raise ValueError("give the calls a minute of each of Slack's four tiers")
    return {tier: tier_rate(rate) for tier, rate in enumerate(per_minute, start=1)}


#: About one post a second per channel, with short bursts (Slack's "special" posting limit).
POST_RATE: Final = Rate(per_second=1.0, burst=8)
#: Near Slack's documented tiers: 1, 20, 50 and 100 calls a minute.
TIERS_PER_MINUTE: Final = (1.0, 20.0, 50.0, 100.0)


@dataclass(frozen=True, kw_only=True)
class SlackRates:
    """How fast the bridge calls Slack: posts per channel, and each tier's calls a minute."""

    post: Rate = POST_RATE
    tiers: Mapping[int, Rate] = field(default_factory=lambda: tier_rates(TIERS_PER_MINUTE))

    def of_method(self, method: str) -> Rate:
        return self.tiers.get(METHOD_TIERS.get(method, DEFAULT_TIER), UNPACED)


class SlackPacing:
    """Paces and holds the surface's Slack calls (see the module's docstring)."""

    def __init__(
        self,
        *,
        rates: SlackRates | None = None,
        holds: Holds | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._rates = rates or SlackRates()
        self._holds = holds
        self._pacer = pacer or Pacer()

    @classmethod
    def unpaced(cls) -> SlackPacing:
        """No pacing and no holds (tests of the surface alone)."""
        return cls(rates=SlackRates(post=UNPACED, tiers={}))

    @staticmethod
    def _scopes(method: str, channel: str | None) -> tuple[str, ...]:
        if method in POSTING and channel:
            return (f"slack:{method}", f"slack:channel:{channel}")
        return (f"slack:{method}",)

    async def before(self, method: str, *, channel: str | None = None) -> None:
        """Wait for ``method``'s turn (and ``channel``'s, for a post). A held call raises a
        throttled ``ChatError`` carrying the hold's remaining time."""
        if self._holds is not None:
            remaining = await self._holds.remaining(*self._scopes(method, channel))
            if remaining > 0:
                raise ChatError(
                    f"{method}: held {remaining:.1f}s more after Slack's 429",
                    kind=FailureKind.THROTTLED,
                    error="ratelimited",
                    retry_after=remaining,
                )
        wants: list[tuple[str, Rate]] = []
        if method not in _CHANNEL_ONLY:
            wants.append((f"method:{method}", self._rates.of_method(method)))
        if method in POSTING and channel:
            wants.append((f"channel:{channel}", self._rates.post))
        await self._pacer.wait(*wants)

    async def refused(self, method: str, *, channel: str | None, retry_after: float) -> None:
        """Slack answered ``429``: hold the method (or, for a post, its channel) everywhere."""
        if self._holds is None:
            return
        scope = self._scopes(method, channel)[-1]
        await self._holds.hold(scope, seconds=retry_after, reason=f"slack 429: {method}")
