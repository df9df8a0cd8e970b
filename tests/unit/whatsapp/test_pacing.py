"""Meta's pace per number and per recipient, and the number's hold: no real sleeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
import respx

from bridge.domain import FailureKind
from bridge.errors import DeliveryError
from bridge.pacing import Pacer, Rate
from tests.unit.whatsapp.test_client import BASE, MESSAGES, PNID, TOKEN, VERSION, meta_error
from whatsapp import WhatsAppClient
from whatsapp.pacing import MetaPacing, MetaRates


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@dataclass
class FakeHolds:
    left: dict[str, float] = field(default_factory=dict)
    stored: list[tuple[str, float]] = field(default_factory=list)

    async def remaining(self, *scopes: str) -> float:
        return max((self.left.get(s, 0.0) for s in scopes), default=0.0)

    async def hold(self, scope: str, *, seconds: float, reason: str) -> None:
        self.stored.append((scope, seconds))


def _pacing(
    rates: MetaRates | None = None, holds: FakeHolds | None = None
) -> tuple[MetaPacing, Clock]:
    clock = Clock()
    pacer = Pacer(monotonic=clock, sleep=clock.sleep)
    return MetaPacing(rates=rates, holds=holds, pacer=pacer), clock


def test_the_defaults_are_metas_rates() -> None:
    rates = MetaRates()
    assert (rates.number.per_second, rates.number.burst) == (80, 80)
    assert rates.pair.per_second == pytest.approx(1 / 6)
    assert 1 < rates.pair.burst <= 45  # Meta lends up to 45 from later


async def test_an_agents_quick_replies_to_one_customer_go_out_at_once() -> None:
    pacing, clock = _pacing()
    for _ in range(5):  # a reply in two parts, and a few more
        await pacing.before_send(PNID, "4915100000001")
    assert clock.slept == []


async def test_a_backlog_to_one_customer_is_spread_at_the_pair_rate() -> None:
    pacing, clock = _pacing(MetaRates(pair=Rate.per_minute(10, burst=3)))
    for _ in range(3):
        await pacing.before_send(PNID, "4915100000001")
    await pacing.before_send(PNID, "4915100000002")  # another customer is not held up
    assert clock.slept == []
    await pacing.before_send(PNID, "4915100000001")
    assert clock.slept == [pytest.approx(6.0)]


async def test_a_number_sends_at_most_its_rate() -> None:
    pacing, clock = _pacing(MetaRates(number=Rate(per_second=80, burst=80)))
    for n in range(80):
        await pacing.before_send(PNID, f"49151{n:08d}")
    await pacing.before_send("2000000002", "4915100000001")  # another number: its own bucket
    assert clock.slept == []
    await pacing.before_send(PNID, "4915199999999")
    assert clock.slept == [pytest.approx(1 / 80)]


async def test_a_held_number_refuses_sends_with_the_time_left() -> None:
    pacing, _ = _pacing(holds=FakeHolds(left={f"meta:number:{PNID}": 1.5}))
    with pytest.raises(DeliveryError) as raised:
        await pacing.before_send(PNID, "4915100000001")
    assert raised.value.kind == FailureKind.THROTTLED and raised.value.retry_after == 1.5
    await pacing.before_send("2000000002", "4915100000001")


async def test_the_client_holds_the_number_on_metas_throughput_error_only() -> None:
    holds = FakeHolds()
    pacing, _ = _pacing(holds=holds)
    client = WhatsAppClient(
        base_url=BASE, version=VERSION, access_token=TOKEN, max_attempts=1, pacing=pacing
    )
    with respx.mock() as meta:
        meta.post(MESSAGES).mock(
            side_effect=[
                meta_error(131056, "pair rate limit hit"),
                meta_error(130429, "Rate limit hit"),
            ]
        )
        for _ in range(2):
            with pytest.raises(DeliveryError):
                await client.send_text(phone_number_id=PNID, to="4915100000001", text="Hi")
    await client.aclose()
    assert holds.stored == [(f"meta:number:{PNID}", 2.0)]


async def test_the_client_sends_nothing_while_its_number_is_held() -> None:
    pacing, _ = _pacing(holds=FakeHolds(left={f"meta:number:{PNID}": 2.0}))
    client = WhatsAppClient(
        base_url=BASE, version=VERSION, access_token=TOKEN, max_attempts=1, pacing=pacing
    )
    with respx.mock(assert_all_called=False) as meta:
        route = meta.post(MESSAGES).mock(return_value=httpx.Response(500))
        with pytest.raises(DeliveryError) as raised:
            await client.send_text(phone_number_id=PNID, to="4915100000001", text="Hi")
        assert not route.called
    await client.aclose()
    assert raised.value.reason == "meta:held"
