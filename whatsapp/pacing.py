"""Meta's pace: sends per business number and per recipient, and the number's stored hold.

Meta takes about 80 messages a second from one business number by default (up to 1,000 after
its upgrade) and about one message every 6 seconds to one user (the *pair rate*), lending
bursts from later. ``MetaPacing.before_send`` waits for the number's bucket and the
recipient's, in this process's memory: an optimisation. The recipient's bucket starts full
(``MetaRates.pair.burst`` messages), so an agent's reply in two parts, or a few quick
replies, go out at once; only a backlog to one customer is spread out.

What holds across processes: a throughput error (130429) stores a hold on the number
(``bridge.ports.Holds``) that every process honours, and a pair-rate error (131056) is
retried by its job with Meta's 4^n backoff in the conversation's WhatsApp lane, where it
holds up every later send to that customer whatever process claims them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bridge.domain import DeliveryProblem, FailureKind
from bridge.errors import DeliveryError
from bridge.pacing import Pacer, Rate
from bridge.ports import Holds
from whatsapp.errors import is_number_throttled

__all__ = ["NUMBER_HOLD", "NUMBER_RATE", "PAIR_RATE", "MetaPacing", "MetaRates"]

#: How long Meta's throughput error holds a business number, in every process: Meta counts
#: messages per second, so a moment's pause lets the number's second pass.
NUMBER_HOLD: Final = 2.0


#: Meta's default throughput of a business number: 80 messages a second.
NUMBER_RATE: Final = Rate(per_second=80, burst=80)
#: Meta's pair rate, about one message every 6 seconds to one user; Meta lends bursts of up
#: to 45 from later, and 20 leaves room for whatever else writes to that user from the number.
PAIR_RATE: Final = Rate.per_minute(10, burst=20)


@dataclass(frozen=True, kw_only=True)
class MetaRates:
    """How fast the bridge sends: per business number, and to one recipient."""

    number: Rate = NUMBER_RATE
    pair: Rate = PAIR_RATE


class MetaPacing:
    """Paces the client's sends and holds a number Meta said sends too fast."""

    def __init__(
        self,
        *,
        rates: MetaRates | None = None,
        holds: Holds | None = None,
        pacer: Pacer | None = None,
        number_hold: float = NUMBER_HOLD,
    ) -> None:
        self._rates = rates or MetaRates()
        self._holds = holds
        self._pacer = pacer or Pacer()
        self._number_hold = number_hold

    async def before_send(self, phone_number_id: str, to: str | None) -> None:
        """Wait for the number's turn and the recipient's; a held number raises a throttled
        ``DeliveryError`` carrying the hold's remaining time (its job waits it out)."""
        if self._holds is not None:
            remaining = await self._holds.remaining(f"meta:number:{phone_number_id}")
            if remaining > 0:
                raise DeliveryError(
                    code=None,
                    title="WhatsApp asked this number to send more slowly",
                    details=f"waiting {remaining:.1f}s more",
                    kind=FailureKind.THROTTLED,
                    problem=DeliveryProblem.THROTTLED,
                    reason="meta:held",
                    retry_after=remaining,
                )
        wants = [(f"number:{phone_number_id}", self._rates.number)]
        if to:
            wants.append((f"pair:{phone_number_id}:{to}", self._rates.pair))
        await self._pacer.wait(*wants)

    async def refused(self, phone_number_id: str, error: DeliveryError) -> None:
        """A send failed: Meta's throughput error holds the number in every process."""
        if self._holds is not None and is_number_throttled(error):
            await self._holds.hold(
                f"meta:number:{phone_number_id}",
                seconds=self._number_hold,
                reason=f"meta throughput: {error.reason}",
            )
