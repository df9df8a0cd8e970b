"""News about the WhatsApp account and its numbers, over a real database: operators are told
once, in the number's channel, through a job retried like every Slack call."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bridge.domain import AccountEventKind
from bridge.usecases.deadletters import DeadLetters
from tests import payloads
from tests.fakes import T0, slack_error, transient_chat_error
from tests.integration.world import CHANNEL, World

OTHER_CHANNEL = "C0SECOND"
SHOWN = {
    "account_deleted": AccountEventKind.DELETED,
    "account_restriction": AccountEventKind.RESTRICTED,
    "account_violation": AccountEventKind.VIOLATION,
    "account_disabled": AccountEventKind.REINSTATED,
    "account_offboarded": AccountEventKind.OFFBOARDED,
    "account_reconnected": AccountEventKind.RECONNECTED,
}


def _quality(event: str, number: str = payloads.DISPLAY_NUMBER, **value: Any) -> bytes:
    return payloads.account_change(
        "phone_number_quality_update", {"display_phone_number": number, "event": event, **value}
    )


async def _second_number(world: World) -> None:
    """A business number of its own channel, as ``wabridge numbers`` would keep it."""
    async with world.uow() as uow:
        await uow.conversations.get_or_create(
            phone_number_id="1000000002",
            display_phone_number="15550002222",
            contact_id="4915199999999",
            contact_name=None,
            slack_channel=OTHER_CHANNEL,
            now=T0,
        )
        await uow.commit()


async def test_every_account_sample_worth_telling_is_posted_once_in_the_channel(
    world: World, shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.usecases.account")
    recorded = shared_dir / "meta" / "samples" / "pywa" / "account_update.json"
    samples: dict[str, dict[str, Any]] = json.loads(recorded.read_text())
    for payload in samples.values():
        body = json.dumps(payload).encode()
        await world.webhook(body)
        await world.webhook(body)  # Meta delivers it again: the same effect as once
    await world.drain()
    assert sorted(n.kind for n in world.chat.operator_notices) == sorted(SHOWN.values())
    assert {p.channel for p in world.chat.operator_posts} == {CHANNEL}
    assert all(p.thread_ts is None for p in world.chat.operator_posts)  # of their own
    assert world.chat.posts == []  # no thread anywhere
    # The rest needs nobody, but none is dropped silently: each is logged by its name.
    logged = {getattr(r, "event", None) for r in caplog.records if "needs nobody" in r.getMessage()}
    quiet = {
        payload["entry"][0]["changes"][0]["value"]["event"]
        for name, payload in samples.items()
        if name not in SHOWN
    }
    assert logged == quiet and "PARTNER_ADDED" in logged
    assert all(state == "done" for _, state, _ in await world.job_states())


async def test_a_number_quality_notice_goes_to_that_numbers_channel(world: World) -> None:
    await _second_number(world)
    await world.webhook(_quality("FLAGGED", number="+1 555-000-2222", current_limit="TIER_1K"))
    await world.webhook(
        _quality("DOWNGRADE", number="19999999999", current_limit="TIER_250", old_limit="TIER_1K")
    )
    await world.drain()
    flagged, downgrade = world.chat.operator_posts
    assert (flagged.channel, flagged.text) == (OTHER_CHANNEL, "operator:quality_down")
    # A number we do not know: the default channel still hears it.
    assert (downgrade.channel, downgrade.text) == (CHANNEL, "operator:limit_down")
    assert world.chat.operator_notices[1].limit == "250"
    assert world.chat.operator_notices[1].previous_limit == "1K"


async def test_a_notice_slack_refuses_for_a_while_is_retried_and_posted_once(
    world: World,
) -> None:
    world.chat.fail_next.append(transient_chat_error())
    await world.webhook(_quality("UPGRADE", current_limit="TIER_10K"))
    await world.drain()
    assert world.chat.operator_posts == []
    assert await world.job_states() == [("post_operator_notice", "pending", "slack:internal_error")]
    world.clock.advance(seconds=30)
    await world.drain()
    [post] = world.chat.operator_posts
    assert post.text == "operator:limit_up"
    assert world.chat.rechecks == 1  # the retry looked for an earlier post first
    assert await world.job_states() == [("post_operator_notice", "done", "slack:internal_error")]


async def test_a_notice_that_failed_holds_up_nobody_and_can_be_replayed(world: World) -> None:
    world.chat.fail_next.append(slack_error("msg_too_long"))
    await world.webhook(
        payloads.account_change(
            "account_update",
            {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}},
        )
    )
    await world.webhook(payloads.messages(payloads.text("wamid.1", "Hello?", at=T0)))
    await world.drain()
    assert world.chat.thread(await world.thread()) == ["Hello?"]
    assert world.chat.operator_posts == []
    letters = DeadLetters(uow=world.uow, clock=world.clock)
    [letter] = await letters.list()
    assert (letter.kind, letter.conversation_id) == ("post_operator_notice", None)
    assert await letters.replay(letter.ref)
    await world.drain()
    [post] = world.chat.operator_posts
    assert post.text == "operator:violation"
