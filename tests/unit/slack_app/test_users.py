"""Display names through users.info, against the Slack simulator over HTTP on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack_sim import SlackSimulator
from slack_app.users import SlackUserNames

TOKEN = "xoxb-users-test-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=TOKEN, signing_secret="s", echo_bot_messages=False) as sim:
        sim.add_user("U024BE7LH", "Bob Ross", "bob")
        sim.add_user("U0REAL", "Ada Lovelace")
        yield sim


@pytest.fixture
def slack(slack_server: SlackSimulator) -> SlackSimulator:
    slack_server.reset()
    return slack_server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def names(slack: SlackSimulator, clock: Clock) -> SlackUserNames:
    return SlackUserNames(AsyncWebClient(token=TOKEN, base_url=slack.url), ttl=600, clock=clock)


async def test_names_are_resolved_and_cached(slack: SlackSimulator, names: SlackUserNames) -> None:
    assert await names.display_name("U024BE7LH") == "bob"
    assert await names.display_name("U024BE7LH") == "bob"
    assert len(slack.calls("users.info")) == 1
    # The simulator's profile display name falls back to the real name when none is set.
    assert await names.display_name("U0REAL") == "Ada Lovelace"
    assert [c.args["user"] for c in slack.calls("users.info")] == ["U024BE7LH", "U0REAL"]


async def test_a_name_is_fetched_again_after_its_ttl(
    slack: SlackSimulator, names: SlackUserNames, clock: Clock
) -> None:
    await names.display_name("U024BE7LH")
    clock.now += 599
    await names.display_name("U024BE7LH")
    assert len(slack.calls("users.info")) == 1
    clock.now += 2
    await names.display_name("U024BE7LH")
    assert len(slack.calls("users.info")) == 2


async def test_an_error_gives_none_and_one_warning(
    slack: SlackSimulator,
    names: SlackUserNames,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="slack_app.users")
    slack.error_next("users.info", "user_not_found")
    assert await names.display_name("U0GONE") is None
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.__dict__["slack_user"] == "U0GONE"
    assert record.__dict__["error"] == "user_not_found"
    assert TOKEN not in record.getMessage()
    # A miss is remembered, briefly.
    assert await names.display_name("U0GONE") is None
    assert len(slack.calls("users.info")) == 1
    clock.now += 61
    assert await names.display_name("U0GONE") == "sim-u0gone"
    assert len(caplog.records) == 1


async def test_an_unreachable_slack_gives_none(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="slack_app.users")
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    client = AsyncWebClient(token=TOKEN, base_url="http://127.0.0.1:9/api/", timeout=2)
    assert await SlackUserNames(client).display_name("U024BE7LH") is None
    [record] = caplog.records
    assert record.__dict__["slack_user"] == "U024BE7LH"


async def test_the_cache_is_bounded(slack: SlackSimulator, clock: Clock) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.url)
    names = SlackUserNames(client, max_entries=2, clock=clock)
    for user_id in ("U1", "U2", "U3", "U2"):
        await names.display_name(user_id)
    assert len(slack.calls("users.info")) == 3  # U2 was still cached
    await names.display_name("U1")  # the oldest, dropped to make room for U3
    assert len(slack.calls("users.info")) == 4
