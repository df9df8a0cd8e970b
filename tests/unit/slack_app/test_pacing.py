"""Slack's pace by channel and method tier, and the holds a 429 leaves: no real sleeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bridge.domain import FailureKind
from bridge.errors import ChatError
from bridge.pacing import Pacer
from slack_app.pacing import METHOD_TIERS, SlackPacing, SlackRates


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
    """Holds as a test sets them: scope -> seconds left."""

    left: dict[str, float] = field(default_factory=dict)
    stored: list[tuple[str, float]] = field(default_factory=list)

    async def remaining(self, *scopes: str) -> float:
        return max((self.left.get(s, 0.0) for s in scopes), default=0.0)

    async def hold(self, scope: str, *, seconds: float, reason: str) -> None:
        self.stored.append((scope, seconds))


def _pacing(holds: FakeHolds | None = None) -> tuple[SlackPacing, Clock]:
    clock = Clock()
    return SlackPacing(holds=holds, pacer=Pacer(monotonic=clock, sleep=clock.sleep)), clock


def test_the_defaults_are_near_slacks_documented_rates() -> None:
    rates = SlackRates()
    assert (rates.post.per_second, rates.post.burst) == (1.0, 8)
    per_minute = {tier: round(rate.per_second * 60) for tier, rate in rates.tiers.items()}
    assert per_minute == {1: 1, 2: 20, 3: 50, 4: 100}
    assert [rates.tiers[t].burst for t in (1, 2, 3, 4)] == [1, 4, 10, 20]
    assert METHOD_TIERS["reactions.add"] == METHOD_TIERS["chat.update"] == 3
    assert rates.of_method("some.unknownMethod") == rates.tiers[2]


async def test_posts_are_paced_per_channel_with_a_short_burst() -> None:
    pacing, clock = _pacing()
    for _ in range(8):
        await pacing.before("chat.postMessage", channel="C1")
    await pacing.before("chat.postMessage", channel="C2")  # another channel: its own bucket
    assert clock.slept == []
    await pacing.before("chat.postMessage", channel="C1")
    assert clock.slept == [pytest.approx(1.0)]


async def test_reactions_are_paced_by_their_tier_across_channels() -> None:
    pacing, clock = _pacing()
    for n in range(10):  # Tier 3: a burst of 10, then 50 a minute, whatever the channel
        await pacing.before("reactions.add", channel=f"C{n}")
    assert clock.slept == []
    await pacing.before("reactions.add", channel="C1")
    assert clock.slept == [pytest.approx(60 / 50)]
    await pacing.before("reactions.remove")  # Tier 2, its own method: a bucket of its own
    assert len(clock.slept) == 1


async def test_a_file_share_waits_for_its_channel_and_its_method() -> None:
    pacing, clock = _pacing()
    for _ in range(8):
        await pacing.before("chat.postMessage", channel="C1")
    await pacing.before("files.completeUploadExternal", channel="C1")
    assert clock.slept == [pytest.approx(1.0)]  # the channel's turn, though Tier 4 had room


async def test_unpaced_never_waits() -> None:
    pacing = SlackPacing.unpaced()
    for _ in range(100):
        await pacing.before("chat.postMessage", channel="C1")
        await pacing.before("reactions.add")


async def test_a_held_channel_refuses_posts_there_with_the_time_left() -> None:
    holds = FakeHolds(left={"slack:channel:C1": 12.5})
    pacing, _ = _pacing(holds)
    with pytest.raises(ChatError) as raised:
        await pacing.before("chat.postMessage", channel="C1")
    assert raised.value.kind == FailureKind.THROTTLED
    assert raised.value.retry_after == 12.5 and raised.value.error == "ratelimited"
    await pacing.before("chat.postMessage", channel="C2")  # other channels post
    await pacing.before("reactions.add", channel="C1")  # and a reaction is no post


async def test_a_held_method_refuses_that_method_only() -> None:
    holds = FakeHolds(left={"slack:reactions.add": 30.0})
    pacing, _ = _pacing(holds)
    with pytest.raises(ChatError):
        await pacing.before("reactions.add")
    await pacing.before("chat.update")


async def test_a_429_holds_the_channel_of_a_post_and_the_method_of_anything_else() -> None:
    holds = FakeHolds()
    pacing, _ = _pacing(holds)
    await pacing.refused("chat.postMessage", channel="C1", retry_after=30)
    await pacing.refused("reactions.add", channel=None, retry_after=5)
    assert holds.stored == [("slack:channel:C1", 30), ("slack:reactions.add", 5)]
