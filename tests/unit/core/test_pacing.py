"""Token buckets and the keyed pacer, on an injected clock: nothing here sleeps."""

from __future__ import annotations

import pytest

from bridge.pacing import UNPACED, Pacer, Rate, TokenBucket


class Clock:
    """A monotonic clock the test moves, and a sleep that only moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_bucket_lets_a_burst_through_then_the_rate() -> None:
    bucket = TokenBucket(Rate(per_second=1.0, burst=3), now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # The fourth waits a second, the fifth two: callers queue in the order they came.
    assert bucket.reserve(0.0) == pytest.approx(1.0)
    assert bucket.reserve(0.0) == pytest.approx(2.0)


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket(Rate.per_minute(60, burst=2), now=0.0)
    bucket.reserve(0.0)
    bucket.reserve(0.0)
    assert bucket.reserve(0.5) == pytest.approx(0.5)  # half a token had come back
    assert bucket.reserve(100.0) == 0.0  # long idle: full again, but never more than the burst
    assert bucket.reserve(100.0) == 0.0
    assert bucket.reserve(100.0) == pytest.approx(1.0)


def test_an_unpaced_bucket_never_waits() -> None:
    bucket = TokenBucket(UNPACED, now=0.0)
    assert all(bucket.reserve(0.0) == 0.0 for _ in range(1000))


def test_a_rate_is_not_negative_and_its_burst_at_least_one() -> None:
    with pytest.raises(ValueError):
        Rate(per_second=-1)
    with pytest.raises(ValueError):
        Rate(per_second=1, burst=0)


async def test_the_pacer_waits_for_the_slowest_bucket_it_names() -> None:
    clock = Clock()
    pacer = Pacer(monotonic=clock, sleep=clock.sleep)
    fast, slow = Rate(per_second=10, burst=1), Rate(per_second=1, burst=1)
    assert await pacer.wait(("a", fast), ("b", slow)) == 0.0
    assert await pacer.wait(("a", fast), ("b", slow)) == pytest.approx(1.0)
    assert clock.slept == [pytest.approx(1.0)]


async def test_each_key_has_its_own_bucket() -> None:
    clock = Clock()
    pacer = Pacer(monotonic=clock, sleep=clock.sleep)
    rate = Rate(per_second=1, burst=1)
    for channel in ("C1", "C2", "C3"):
        assert await pacer.wait((channel, rate)) == 0.0
    assert await pacer.wait(("C1", rate)) == pytest.approx(1.0)


async def test_the_pacer_forgets_idle_buckets_when_it_holds_too_many() -> None:
    clock = Clock()
    pacer = Pacer(monotonic=clock, sleep=clock.sleep, max_keys=2)
    rate = Rate(per_second=1, burst=1)
    pacer.reserve(("a", rate))
    pacer.reserve(("b", rate))
    clock.now += 5  # both full again: forgetting them changes nothing
    pacer.reserve(("c", rate))
    assert len(pacer.held) == 1
    # A bucket still in use is kept: its next caller must still wait.
    pacer.reserve(("c", rate))
    pacer.reserve(("d", rate))
    pacer.reserve(("e", rate))  # two buckets held, neither full: both stay
    assert pacer.held == {"c", "d", "e"}
    assert pacer.reserve(("c", rate)) == pytest.approx(2.0)
