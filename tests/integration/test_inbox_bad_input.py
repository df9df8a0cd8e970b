"""Whatever Meta signs, the inbox copes: any body stored in the inbox ends processed or as a
dead letter with a reason an operator can act on, the workers never raise, and the next good
webhook behind it still reaches its thread. Through the real inbox and job workers, over a
real database (SQLite, or PostgreSQL with WABRIDGE_TEST_DB=postgres)."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.domain import FailureKind
from bridge.errors import DeliveryError
from storage.db import create_engine
from storage.models import Base
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0
from tests.integration.world import World
from tests.strategies import field_names, load_samples, mutated, replace_everywhere

#: The reasons a webhook may be set aside for; anything else (``unexpected:...``) is a bug.
DEAD_REASONS = {"unparseable", "unknown_number"}
ENDED = ("done", "failed")
#: What Meta answers for a media id it does not know (the broken samples name many).
NO_SUCH_MEDIA = DeliveryError(
    code=100, title="Invalid parameter", kind=FailureKind.PERMANENT, reason="meta:100"
)


@pytest.fixture(scope="module")
def samples(shared_dir: Path) -> dict[str, dict[str, Any]]:
    """The recorded samples, written to the business number the world knows, so that their
    messages and statuses reach the use cases instead of waiting for a number."""
    found = load_samples(shared_dir)
    for payload in found.values():
        replace_everywhere(payload, "phone_number_id", payloads.PHONE_NUMBER_ID)
    return found


async def _empty(uow: SqlUnitOfWorkFactory) -> None:
    async with uow.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


async def _settle(world: World) -> None:
    """Run the workers until nothing is left, letting the clock pass every retry's backoff;
    a worker that raises fails the test."""
    for _ in range(30):
        for _ in range(1000):
            if not (await world.workers.inbox.run_once()) + (await world.workers.jobs.run_once()):
                break
        inbox, jobs = await world.inbox_states(), await world.job_states()
        if all(state in ENDED for state, _ in inbox) and all(j[1] in ENDED for j in jobs):
            return
        world.clock.advance(minutes=10)  # past the backoff of whatever is tried again
    raise AssertionError(f"never settled: {await world.inbox_states()} {await world.job_states()}")


def _bodies(samples: dict[str, dict[str, Any]]) -> st.SearchStrategy[bytes]:
    broken = mutated(samples).map(lambda payload: json.dumps(payload).encode())
    raw = st.binary(max_size=64) | st.sampled_from([b"", b"null", b"[]", b'{"entry": {}}'])
    return st.one_of(broken, broken, broken, raw)


@pytest.mark.long
def test_broken_webhooks_end_processed_or_dead_and_the_next_good_one_arrives(
    database_url: str, samples: dict[str, dict[str, Any]]
) -> None:
    # Hypothesis drives plain functions, so the examples run on an event loop of their own.
    with asyncio.Runner() as runner:
        uow = SqlUnitOfWorkFactory(create_engine(database_url))
        seen = 0

        @settings(
            max_examples=50,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.lists(_bodies(samples), min_size=1, max_size=3))
        def broken_then_good(bodies: list[bytes]) -> None:
            nonlocal seen
            seen += 1
            runner.run(_broken_then_good(uow, bodies))

        try:
            broken_then_good()
        finally:
            runner.run(uow.engine.dispose())
    assert seen >= 50


async def _broken_then_good(uow: SqlUnitOfWorkFactory, bodies: list[bytes]) -> None:
    await _empty(uow)
    world = World.build(uow)
    world.whatsapp.media_fails_with = NO_SUCH_MEDIA
    for body in bodies:
        await world.webhook(body)
    good = payloads.text("wamid.GOOD", "still here", at=T0, wa_id="4915199999999")
    await world.webhook(payloads.messages(good, name="Zed", wa_id="4915199999999"))
    await _settle(world)

    states = await world.inbox_states()
    assert states[-1] == ("done", None), states
    for state, reason in states:
        assert state == "done" or reason in DEAD_REASONS, (state, reason, bodies)
    posted = [p.text for p in world.chat.posts if p.thread_ts is not None]
    assert "still here" in posted
    for job_type, state, reason in await world.job_states():
        # Every job ends, and none by surprise: an unexpected exception is a bug.
        assert state == "done" or not str(reason).startswith("unexpected"), (job_type, reason)


#: Samples of each kind the inbox applies, and the values a database is pickiest about.
PICKY_SAMPLES = (
    "message/text",
    "message/image",
    "message/reaction",
    "message_status/failed",
    "template_status_update/approved",
    "account_update/account_restriction",
)
PICKY_VALUES = ("\x00", "\ud800", "x" * 200_000, 2**70, float("nan"))


@pytest.mark.long
async def test_every_field_of_each_kind_with_what_databases_refuse(
    uow_factory: SqlUnitOfWorkFactory, samples: dict[str, dict[str, Any]]
) -> None:
    """NUL, a lone surrogate, 200,000 characters, a number no column holds and NaN, in every
    field of a message, a status, a template and an account webhook: each body is processed
    or set aside with its reason, never failed by surprise."""
    for name in PICKY_SAMPLES:
        await _empty(uow_factory)
        world = World.build(uow_factory)
        world.whatsapp.media_fails_with = NO_SUCH_MEDIA
        sample = samples[name]
        keys = sorted(field_names(sample))
        for key in keys:
            for value in PICKY_VALUES:
                payload = copy.deepcopy(sample)
                replace_everywhere(payload, key, value)
                await world.webhook(json.dumps(payload).encode())
        await _settle(world)
        states = await world.inbox_states()
        assert len(states) == len(keys) * len(PICKY_VALUES)
        for index, (state, reason) in enumerate(states):
            key, value = keys[index // len(PICKY_VALUES)], PICKY_VALUES[index % len(PICKY_VALUES)]
            assert state == "done" or reason in DEAD_REASONS, (name, key, repr(value)[:12], reason)
        for job_type, state, reason in await world.job_states():
            assert state == "done" or not str(reason).startswith("unexpected"), (job_type, reason)
