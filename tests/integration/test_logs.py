"""Logs as an operator reads them: one JSON object per line carrying the conversation and
message ids, and no secret anywhere (logs or ``/metrics``), whatever fails and how."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from slack_sdk.errors import SlackApiError

from bridge.errors import DeliveryError
from bridge.ports import BusinessNumber
from bridge.usecases.replies import Replies, ReplyOutcome
from sandbox.slack_sim import SlackSimulator
from slack_app.observed import ObservedWebClient
from slack_app.pacing import SlackPacing
from slack_app.surface import SlackSurface
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import FakeClock
from tests.integration.world import CHANNEL, RETRY_FOR, World, storage_of
from wabridge.bootstrap import build_numbers, build_web, build_whatsapp, build_workers
from wabridge.logs import configure_logging
from wabridge.settings import load_settings
from webhook_server.metrics import Metrics
from whatsapp.signature import sign


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(err: str) -> list[dict[str, object]]:
    lines = err.strip().splitlines()
    assert lines
    return [json.loads(line) for line in lines]  # every line, or the test fails here


async def test_json_lines_carry_conversation_and_message_ids(
    uow_factory: SqlUnitOfWorkFactory, restore_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="json", secrets=[])
    world = World.build(uow_factory)
    await world.webhook(payloads.messages(payloads.text("wamid.1", "hello", at=world.clock.now())))
    await world.drain()
    reply = await world.reply(await world.thread(), "On its way")

    events = _lines(capsys.readouterr().err)
    by_event = {str(e["event"]): e for e in events}
    inbound = by_event["inbound stored"]
    conversation_id, customer_message = inbound["conversation_id"], inbound["message_id"]
    assert isinstance(conversation_id, int) and isinstance(customer_message, int)
    posted = by_event["customer message posted"]
    assert (posted["conversation_id"], posted["message_id"]) == (conversation_id, customer_message)
    for outbound in ("reply taken", "reply sent"):
        line = by_event[outbound]
        assert (line["conversation_id"], line["message_id"]) == (conversation_id, reply.id)


# --- secrets ----------------------------------------------------------------------------------

SECRETS = {
    "META_ACCESS_TOKEN": "EAAGsecretMetaAccessToken0001",
    "META_APP_SECRET": "secret-meta-app-secret-0002",
    "META_VERIFY_TOKEN": "secret-verify-token-0003",
    "SLACK_BOT_TOKEN": "xoxb-secret-bot-token-0004",
    "SLACK_SIGNING_SECRET": "secret-signing-secret-0005",
    "SLACK_APP_TOKEN": "xapp-secret-app-token-0006",
    "WABRIDGE_API_TOKEN": "secret-rest-api-token-0007",
}
#: Credentials of a number added with ``wabridge numbers add``, learnt at run time.
NUMBER_TOKEN = "EAAGsecretOwnNumberToken0008"
NUMBER_SECRET = "secret-own-number-app-secret-0009"
OTHER_NUMBER = ("1000000077", "15550007777")


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackSimulator]:
    with SlackSimulator(
        bot_token=SECRETS["SLACK_BOT_TOKEN"], signing_secret="s", echo_bot_messages=False
    ) as sim:
        yield sim


def _graph(request: httpx.Request) -> httpx.Response:
    """A Graph API that quotes back the bearer token it refuses, and a network that shows
    the request (URL and headers) in its error texts."""
    token = request.headers["Authorization"].removeprefix("Bearer ")
    if request.url.path.endswith("/media"):
        raise httpx.ConnectError(f"cannot reach {request.url} with {dict(request.headers)}")
    if request.url.path.endswith("/messages") and b'"read"' in request.content:
        raise RuntimeError(f"proxy refused Authorization: Bearer {token}")
    error = {
        "code": 190,
        "message": f"Invalid OAuth access token - Cannot parse access token {token}",
        "type": "OAuthException",
        "fbtrace_id": "A1",
    }
    return httpx.Response(401, json={"error": error})


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_no_secret_reaches_the_logs_or_the_metrics(
    fmt: str,
    uow_factory: SqlUnitOfWorkFactory,
    slack_server: SlackSimulator,
    restore_root: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        **SECRETS,
        "META_PHONE_NUMBER_ID": payloads.PHONE_NUMBER_ID,
        "SLACK_CHANNEL_ID": CHANNEL,
        "SLACK_API_URL": slack_server.url,
        "META_API_BASE": "https://graph.test",
    }
    for name, setting in env.items():
        monkeypatch.setenv(name, setting)
    settings = load_settings()
    configure_logging(fmt=fmt, secrets=settings.secret_values())
    slack_server.reset()
    metrics, clock = Metrics(), FakeClock()
    storage = storage_of(uow_factory)
    async with uow_factory() as uow:
        number = BusinessNumber(
            phone_number_id=OTHER_NUMBER[0],
            display_phone_number=OTHER_NUMBER[1],
            waba_id=None,
            slack_channel=CHANNEL,
            access_token=NUMBER_TOKEN,
            app_secret=NUMBER_SECRET,
        )
        await uow.numbers.add(number, now=clock.now())
        await uow.commit()
    numbers = build_numbers(settings, storage=storage)
    http = httpx.AsyncClient(transport=httpx.MockTransport(_graph))
    whatsapp = build_whatsapp(settings, http=http, numbers=numbers, calls=metrics)
    client = ObservedWebClient(
        calls=metrics, token=SECRETS["SLACK_BOT_TOKEN"], base_url=slack_server.url
    )
    surface = SlackSurface(client=client, pacing=SlackPacing.unpaced(), now=clock.now)
    workers = build_workers(
        storage=storage,
        chat=surface,
        whatsapp=whatsapp,
        clock=clock,
        numbers=numbers,
        retry_for=RETRY_FOR,
        relays=metrics,
    )
    replies = Replies(uow=uow_factory, clock=clock, settle=timedelta(0))
    # Only the parts of a World that need no fakes: the workers here run the real adapters.
    world = World(uow_factory, clock, None, None, replies, workers, numbers)  # type: ignore[arg-type]
    app = build_web(
        settings,
        storage=storage,
        clock=clock,
        slack=None,
        numbers=numbers,
        metrics=metrics,
    )
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge")
    async with web, http, client:
        # The web side: a webhook signed with the wrong key, or the key itself as signature;
        # a wrong verify token; a REST bearer that is the token plus a letter.
        body = payloads.messages(
            payloads.text("wamid.1", "hello", at=clock.now()), number=OTHER_NUMBER
        )
        for signature in (sign("not the secret", body), f"sha256={SECRETS['META_APP_SECRET']}"):
            answer = await web.post(
                "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": signature}
            )
            assert answer.status_code == 401
        handshake = {"hub.mode": "subscribe", "hub.challenge": "1"}
        wrong = f"{SECRETS['META_VERIFY_TOKEN']}x"
        answer = await web.get(
            "/webhooks/whatsapp", params={**handshake, "hub.verify_token": wrong}
        )
        assert answer.status_code == 403
        bearer = {"Authorization": f"Bearer {SECRETS['WABRIDGE_API_TOKEN']}x"}
        assert (await web.get("/api/v1/conversations", headers=bearer)).status_code == 401

        # Slack refuses the bot token (invalid_auth): the Slack lane pauses, then resumes.
        slack_server.error_next("chat.postMessage", "invalid_auth")
        answer = await web.post(
            "/webhooks/whatsapp",
            content=body,
            headers={"X-Hub-Signature-256": sign(NUMBER_SECRET, body)},
        )
        assert answer.status_code == 200
        await world.drain()
        assert await world.paused()
        clock.advance(seconds=30)  # past the probe delay
        await world.drain()
        assert not await world.paused()
        thread = slack_server.top_level(CHANNEL)[0].ts

        # Meta refuses the number's own token (190) and quotes it back: WhatsApp pauses.
        result = await world.queue_reply(thread, "On its way")
        assert result.outcome == ReplyOutcome.QUEUED
        await world.drain()
        assert await world.paused()
        # Transport errors whose text holds the request's URL and headers, and an exception
        # with the token in its text, straight from the client.
        for call in (
            whatsapp.upload_media(
                phone_number_id=OTHER_NUMBER[0],
                path=Path(__file__),
                mime_type="text/plain",
                filename="x.txt",
            ),
            whatsapp.mark_read(phone_number_id=OTHER_NUMBER[0], wamid="wamid.1"),
            whatsapp.mark_read(phone_number_id=payloads.PHONE_NUMBER_ID, wamid="wamid.1"),
        ):
            try:
                await call
            except (DeliveryError, RuntimeError):
                logging.getLogger("tests.secrets").exception("call failed")
            else:
                raise AssertionError("the call should have failed")
        wrong_token = ObservedWebClient(
            calls=metrics, token=SECRETS["SLACK_APP_TOKEN"], base_url=slack_server.url
        )
        try:
            async with wrong_token:
                await wrong_token.chat_postMessage(channel=CHANNEL, text="wrong kind of token")
        except SlackApiError:
            logging.getLogger("tests.secrets").exception("slack call failed")
        else:
            raise AssertionError("Slack should have refused the app token")
        scraped = (await web.get("/metrics")).text

    logged = capsys.readouterr().err
    # The paths above did log, with the failures the test meant to cause.
    assert "invalid_auth" in logged and "190" in logged and "ConnectError" in logged
    assert "wabridge_meta_calls_total" in scraped and 'outcome="invalid_auth"' in scraped
    if fmt == "json":
        _lines(logged)
    for secret in [*SECRETS.values(), NUMBER_TOKEN, NUMBER_SECRET]:
        assert secret not in logged, secret
        assert secret not in scraped, secret
        assert secret not in generate_latest(metrics.registry).decode()
