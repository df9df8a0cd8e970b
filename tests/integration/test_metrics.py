"""``/metrics`` as an operator scrapes it: queues by lane and age, counts every process
shares, calls to Slack and Meta by method and outcome, and relay latencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridge.domain import NoticeKind
from bridge.errors import ChatError, DeliveryError
from bridge.usecases.replies import ReplyOutcome
from bridge.usecases.warnings import WindowWatch
from sandbox.slack_sim import SlackSimulator
from slack_app.observed import ObservedWebClient
from slack_app.pacing import SlackPacing
from slack_app.surface import SlackSurface
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, meta_error
from tests.integration.world import CHANNEL, World, storage_of
from wabridge.bootstrap import build_web
from wabridge.settings import Settings, load_settings
from webhook_server.metrics import Metrics
from whatsapp.client import WhatsAppClient

ENV = {
    "META_ACCESS_TOKEN": "EAAG-metrics-token",
    "META_APP_SECRET": "metrics-app-secret",
    "META_VERIFY_TOKEN": "metrics-verify",
    "META_PHONE_NUMBER_ID": payloads.PHONE_NUMBER_ID,
    "SLACK_BOT_TOKEN": "xoxb-metrics",
    "SLACK_SIGNING_SECRET": "metrics-signing-secret",
    "SLACK_CHANNEL_ID": CHANNEL,
}


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` of a scrape; KeyError if the scrape has none."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise KeyError(f"{name}{labels}")


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name, setting in ENV.items():
        monkeypatch.setenv(name, setting)
    return load_settings()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def world(uow_factory: SqlUnitOfWorkFactory, metrics: Metrics) -> World:
    return World.build(uow_factory, relays=metrics)


@pytest.fixture
async def scrape(world: World, settings: Settings, metrics: Metrics) -> AsyncIterator[Scrape]:
    app = build_web(
        settings,
        storage=storage_of(world.uow),
        clock=world.clock,
        slack=None,
        numbers=world.numbers,
        metrics=metrics,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as client:
        yield Scrape(client)


class Scrape:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __call__(self) -> str:
        response = await self._client.get("/metrics")
        assert response.status_code == 200
        return response.text


def _hello(world: World, wamid: str = "wamid.1") -> bytes:
    return payloads.messages(payloads.text(wamid, "hello", at=world.clock.now()))


async def test_inbox_lag_and_each_lanes_depth_and_oldest_due_job(
    world: World, scrape: Scrape
) -> None:
    idle = await scrape()
    assert value(idle, "wabridge_inbox_lag_seconds") == 0
    for lane in ("slack", "whatsapp"):
        assert value(idle, "wabridge_outbox_lane_depth", lane=lane) == 0
        assert value(idle, "wabridge_outbox_oldest_due_seconds", lane=lane) == 0

    await world.webhook(_hello(world))  # stored at T0, nobody processes it yet
    world.clock.advance(seconds=7)
    waiting = await scrape()
    assert value(waiting, "wabridge_inbox_lag_seconds") == 7
    assert value(waiting, "wabridge_outbox_lane_depth", lane="slack") == 0

    assert await world.workers.inbox.run_once() == 1  # its jobs are queued at T0 + 7 s
    world.clock.advance(seconds=3)
    queued = await scrape()
    assert value(queued, "wabridge_inbox_lag_seconds") == 0
    slack_depth = value(queued, "wabridge_outbox_lane_depth", lane="slack")
    assert slack_depth >= 1 and slack_depth == value(queued, "wabridge_outbox_depth")
    assert value(queued, "wabridge_outbox_oldest_due_seconds", lane="slack") == 3
    assert value(queued, "wabridge_outbox_lane_depth", lane="whatsapp") == 0
    assert value(queued, "wabridge_outbox_oldest_due_seconds", lane="whatsapp") == 0

    await world.drain()
    done = await scrape()
    assert value(done, "wabridge_outbox_lane_depth", lane="slack") == 0
    assert value(done, "wabridge_outbox_oldest_due_seconds", lane="slack") == 0


async def test_relay_latencies_both_ways(world: World, scrape: Scrape) -> None:
    await world.webhook(_hello(world))  # received at T0
    world.clock.advance(seconds=2)
    await world.drain()  # posted in Slack at T0 + 2 s
    inbound = await scrape()
    assert value(inbound, "wabridge_relay_inbound_seconds_count") == 1
    assert value(inbound, "wabridge_relay_inbound_seconds_sum") == pytest.approx(2.0)
    assert value(inbound, "wabridge_relay_inbound_seconds_bucket", le="1.0") == 0
    assert value(inbound, "wabridge_relay_inbound_seconds_bucket", le="2.5") == 1

    thread = await world.thread()
    result = await world.queue_reply(thread, "On its way")  # its Slack ts: the clock's second
    assert result.outcome == ReplyOutcome.QUEUED
    world.clock.advance(seconds=0.3)
    await world.drain()  # Meta accepts it 0.3 s after the agent posted it
    outbound = await scrape()
    assert value(outbound, "wabridge_relay_outbound_seconds_count") == 1
    assert value(outbound, "wabridge_relay_outbound_seconds_sum") == pytest.approx(0.3, abs=0.01)
    assert value(outbound, "wabridge_relay_outbound_seconds_bucket", le="0.25") == 0
    assert value(outbound, "wabridge_relay_outbound_seconds_bucket", le="0.5") == 1
    # Messages that did not come from a thread reply (a template...) time nothing.
    assert value(outbound, "wabridge_relay_inbound_seconds_count") == 1


async def test_warnings_posted_and_replies_a_closed_window_blocked(
    world: World, scrape: Scrape
) -> None:
    await world.webhook(_hello(world))
    await world.drain()
    thread = await world.thread()
    start = await scrape()
    assert value(start, "wabridge_warnings_posted_total") == 0
    assert value(start, "wabridge_replies_window_closed_total") == 0

    # Meta says the window is closed (131047): blocked.
    world.whatsapp.fail_next.append(meta_error(131047, "Re-engagement message"))
    await world.queue_reply(thread, "Are you there?")
    await world.drain()

    watch = WindowWatch(
        uow=world.uow, clock=world.clock, marks=(timedelta(hours=2),), templates=None
    )
    world.clock.advance(hours=22, minutes=1)
    assert (await watch.scan()).warned == 1
    await world.drain()
    assert any(p.text.startswith(f"notice:{NoticeKind.WINDOW_WARNING}") for p in world.chat.posts)

    # The window closed: the reply is refused before anything is queued.
    world.clock.advance(hours=3)
    refused = await world.queue_reply(thread, "Too late?")
    assert refused.outcome == ReplyOutcome.WINDOW_CLOSED
    await world.drain()

    counted = await scrape()
    assert value(counted, "wabridge_warnings_posted_total") == 1
    assert value(counted, "wabridge_replies_window_closed_total") == 2
    # From the database: a second process's /metrics (a fresh registry) says the same.
    assert (
        value(generate_latest(Metrics().registry).decode(), "wabridge_warnings_posted_total") == 0
    )
    assert value(await scrape(), "wabridge_warnings_posted_total") == 1


# --- calls to Slack and Meta ----------------------------------------------------------------

SLACK_TOKEN = "xoxb-metrics-slack"


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSimulator]:
    with SlackSimulator(bot_token=SLACK_TOKEN, signing_secret="s", echo_bot_messages=False) as sim:
        yield sim


async def test_slack_calls_by_method_and_outcome(
    slack_server: SlackSimulator, metrics: Metrics
) -> None:
    slack_server.reset()
    client = ObservedWebClient(calls=metrics, token=SLACK_TOKEN, base_url=slack_server.url)
    surface = SlackSurface(client=client, pacing=SlackPacing.unpaced(), now=lambda: T0)
    from bridge.ports import ContactView

    contact = ContactView(contact_id="4915112345678", name="Ada", business_number="15550001111")
    async with client:
        await surface.open_thread(channel=CHANNEL, contact=contact, key="k1", recheck_since=None)
        slack_server.error_next("chat.postMessage", "channel_not_found")
        slack_server.rate_limit_next("chat.postMessage")
        slack_server.fail_next("chat.postMessage", status=500)
        for key in ("k2", "k3", "k4"):
            with pytest.raises(ChatError):
                await surface.open_thread(
                    channel=CHANNEL, contact=contact, key=key, recheck_since=None
                )

    text = generate_latest(metrics.registry).decode()
    calls = "wabridge_slack_calls_total"
    # A 500 is counted by the error its body names (the simulator's, as Slack's, says one).
    for outcome in ("ok", "channel_not_found", "ratelimited", "fatal_error"):
        assert value(text, calls, method="chat.postMessage", outcome=outcome) == 1
    assert value(text, "wabridge_rate_limited_total", api="slack") == 1
    assert value(text, "wabridge_rate_limited_total", api="meta") == 0


async def test_meta_calls_by_method_and_outcome(metrics: Metrics) -> None:
    answers = [
        httpx.Response(200, json={"messages": [{"id": "wamid.OK"}]}),
        httpx.Response(400, json={"error": {"code": 131047, "message": "Re-engagement"}}),
        httpx.Response(400, json={"error": {"code": 130429, "message": "Rate limit hit"}}),
        httpx.Response(500, text="oops"),
        httpx.Response(200, json={"data": [], "paging": {}}),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    client = WhatsAppClient(
        base_url="https://graph.test",
        version="v23.0",
        access_token="EAAG-meta-calls",
        http=http,
        max_attempts=1,
        calls=metrics,
    )
    async with http:
        await client.send_text(phone_number_id="1000000001", to="4915112345678", text="hi")
        for _ in range(3):
            with pytest.raises(DeliveryError):
                await client.send_text(phone_number_id="1000000001", to="4915112345678", text="x")
        await client.list_templates("2000000002")

    text = generate_latest(metrics.registry).decode()
    calls = "wabridge_meta_calls_total"
    for outcome in ("ok", "131047", "130429", "http_500"):
        assert value(text, calls, method="POST messages", outcome=outcome) == 1
    assert value(text, calls, method="GET message_templates", outcome="ok") == 1
    assert value(text, "wabridge_rate_limited_total", api="meta") == 1
