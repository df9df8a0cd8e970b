"""The REST API over a real database, with fake WhatsApp and Slack: pages that follow a cursor,
one conversation's metrics, and messages sent through the API (checked, queued, shown in the
thread, sent once)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from bridge.domain import MessageTemplate, Part, Placeholder
from bridge.ports import MessageRecord
from bridge.usecases.api import RestApi
from bridge.usecases.templates import Templates
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0
from tests.integration.world import World
from webhook_server.app import WebDeps, create_app
from webhook_server.metrics import Metrics
from whatsapp.content import ContentRules

TOKEN = "rest-token-for-api-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WABA = "WABA1"
ADA = "4915112345678"

ORDER_UPDATE = MessageTemplate(
    name="order_update",
    language="en",
    category="UTILITY",
    status="APPROVED",
    body_text="Hello {{1}}, your order {{2}} has shipped.",
    placeholders=(
        Placeholder(part=Part.BODY, name="1", example="Ada"),
        Placeholder(part=Part.BODY, name="2", example="A-1"),
    ),
)


async def _no_webhooks(body: bytes, header: str | None) -> bool:
    return False


@dataclass
class Api:
    world: World
    client: httpx.AsyncClient
    rest: RestApi

    async def post(
        self, conversation_id: int, body: dict[str, Any], *, key: str | None = None
    ) -> httpx.Response:
        headers = {**AUTH, **({"Idempotency-Key": key} if key is not None else {})}
        return await self.client.post(
            f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=headers
        )

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=AUTH)

    async def messages(self, conversation_id: int) -> list[MessageRecord]:
        async with self.world.uow() as uow:
            return await uow.messages.for_conversation(conversation_id)


def _deps(world: World, rest: RestApi, *, api_token: str | None = TOKEN) -> WebDeps:
    async def ready() -> bool:
        return True

    return WebDeps(
        uow=world.uow,
        verify_signature=_no_webhooks,
        verify_token="verify-me",
        api_token=api_token,
        api=rest,
        clock=world.clock,
        ready=ready,
        slack_handler=None,
        metrics=Metrics(),
    )


def _rest(world: World) -> RestApi:
    templates = Templates(uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id=WABA)
    return RestApi(uow=world.uow, clock=world.clock, content=ContentRules(), templates=templates)


@pytest.fixture
async def api(world: World) -> AsyncIterator[Api]:
    rest = _rest(world)
    transport = httpx.ASGITransport(app=create_app(_deps(world, rest)))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(world, client, rest)


async def _customer_writes(
    world: World, text: str = "Need help", *, at: datetime = T0, wa_id: str = ADA, n: int = 1
) -> int:
    """A customer's message, taken all the way into the thread; the conversation's id."""
    body = payloads.messages(
        payloads.text(f"wamid.{wa_id}.{n}", text, at=at, wa_id=wa_id), wa_id=wa_id
    )
    await world.webhook(body)
    await world.drain()
    async with world.uow() as uow:
        conversation = await uow.conversations.by_thread(
            channel=world.chat.parents()[-1].channel, thread_ts=world.chat.parents()[-1].ts
        )
    assert conversation is not None
    return conversation.id


async def _conversation(uow: SqlUnitOfWorkFactory, contact: str, at: datetime | None) -> int:
    """A conversation whose latest message is at ``at`` (None: it has none)."""
    async with uow() as unit:
        conversation = await unit.conversations.get_or_create(
            phone_number_id=payloads.PHONE_NUMBER_ID,
            display_phone_number=payloads.DISPLAY_NUMBER,
            contact_id=contact,
            contact_name=f"Contact {contact}",
            slack_channel="C1",
            now=T0,
        )
        if at is not None:
            await unit.conversations.record_message(
                conversation.id, at=at, from_contact=True, window_expires_at=at + timedelta(days=1)
            )
        await unit.commit()
    return conversation.id


async def _follow(api: Api, path: str, **params: Any) -> list[list[int]]:
    """Every page of a list, following its Link headers: the ids on each page."""
    pages: list[list[int]] = []
    response = await api.get(path, **params)
    while True:
        assert response.status_code == 200, response.text
        pages.append([row["id"] for row in response.json()])
        link = response.headers.get("link")
        if link is None:
            assert "x-next-cursor" not in response.headers
            return pages
        url, rel = link.split(";", 1)
        assert rel.strip() == 'rel="next"'
        assert response.headers["x-next-cursor"] in url
        response = await api.client.get(url.strip("<> "), headers=AUTH)


# --- pages -------------------------------------------------------------------------------------


async def test_conversations_page_newest_first_and_follow_the_cursor(api: Api) -> None:
    uow = api.world.uow
    # Two share their latest time (the id breaks the tie); one has no message at all (last).
    ids = {
        "old": await _conversation(uow, "100", T0),
        "tie_a": await _conversation(uow, "101", T0 + timedelta(hours=1)),
        "tie_b": await _conversation(uow, "102", T0 + timedelta(hours=1)),
        "new": await _conversation(uow, "103", T0 + timedelta(hours=2, microseconds=5)),
        "quiet": await _conversation(uow, "104", None),
    }
    expected = [ids[k] for k in ("new", "tie_b", "tie_a", "old", "quiet")]
    pages = await _follow(api, "/api/v1/conversations", limit=2)
    assert pages == [expected[0:2], expected[2:4], expected[4:5]]
    # Exactly full last page: no cursor after it.
    assert await _follow(api, "/api/v1/conversations", limit=5) == [expected]
    # The body is still the plain list it always was.
    first = (await api.get("/api/v1/conversations", limit=1)).json()[0]
    assert first["contact"] == {"wa_id": "103", "name": "Contact 103"}


async def test_pages_stay_put_while_conversations_arrive(api: Api) -> None:
    uow = api.world.uow
    older = [await _conversation(uow, str(200 + n), T0 + timedelta(minutes=n)) for n in range(4)]
    first = await api.get("/api/v1/conversations", limit=2)
    assert [c["id"] for c in first.json()] == [older[3], older[2]]
    # A newer conversation arrives between two pages: the next page neither repeats nor skips.
    newest = await _conversation(uow, "299", T0 + timedelta(hours=5))
    second = await api.get("/api/v1/conversations", limit=2, cursor=first.headers["x-next-cursor"])
    assert [c["id"] for c in second.json()] == [older[1], older[0]]
    assert "link" not in second.headers
    assert (await api.get("/api/v1/conversations", limit=1)).json()[0]["id"] == newest


async def test_offset_still_works_but_not_with_a_cursor(api: Api) -> None:
    uow = api.world.uow
    ids = [await _conversation(uow, str(300 + n), T0 + timedelta(minutes=n)) for n in range(3)]
    skipped = await api.get("/api/v1/conversations", limit=1, offset=1)
    assert [c["id"] for c in skipped.json()] == [ids[1]]
    # Its next page goes on from there, by cursor (the offset is dropped from the link).
    assert "offset" not in skipped.headers["link"]
    after = await api.client.get(skipped.headers["link"].split(";")[0].strip("<>"), headers=AUTH)
    assert [c["id"] for c in after.json()] == [ids[0]]
    both = await api.get("/api/v1/conversations", offset=1, cursor=skipped.headers["x-next-cursor"])
    assert both.status_code == 422
    assert both.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'["c", "yesterday", 1]').decode(),
        base64.urlsafe_b64encode(b'["c", null, -1]').decode(),
        base64.urlsafe_b64encode(b'["m", 1, 1]').decode(),  # a messages cursor
        "A" * 500,
    ],
)
async def test_a_malformed_cursor_is_422_with_the_reason(api: Api, cursor: str) -> None:
    await _conversation(api.world.uow, "400", T0)
    response = await api.get("/api/v1/conversations", cursor=cursor)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "cursor"]
    assert "cursor" in error["msg"]


async def test_messages_page_oldest_first_and_new_ones_come_at_the_end(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world, "one", n=1)
    for n in range(2, 6):
        await _customer_writes(world, f"message {n}", at=T0 + timedelta(seconds=n), n=n)
    path = f"/api/v1/conversations/{conversation_id}/messages"
    ids = [m.id for m in await api.messages(conversation_id)]
    assert await _follow(api, path, limit=2) == [ids[0:2], ids[2:4], ids[4:5]]

    first = await api.get(path, limit=3)
    await _customer_writes(world, "late", at=T0 + timedelta(minutes=1), n=9)
    rest = await api.get(path, limit=3, cursor=first.headers["x-next-cursor"])
    texts = [m["content"]["text"] for m in first.json() + rest.json()]
    assert texts == ["one", "message 2", "message 3", "message 4", "message 5", "late"]
    assert "link" not in rest.headers

    # A cursor of one conversation's messages is no cursor of another's.
    other = await _customer_writes(world, "hi", wa_id="4917000000001")
    wrong = await api.get(
        f"/api/v1/conversations/{other}/messages", cursor=first.headers["x-next-cursor"]
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert (await api.get("/api/v1/conversations/99999/messages")).status_code == 404


# --- one conversation --------------------------------------------------------------------------


async def test_a_conversation_with_its_metrics(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world, "Where is my order?")
    world.clock.advance(seconds=90)
    await world.reply(await world.thread(), "On its way")
    await world.reply(await world.thread(), "Anything else?")
    later = T0 + timedelta(minutes=10)
    world.clock.current = later
    await _customer_writes(world, "Thanks", at=later, n=2)

    detail = (await api.get(f"/api/v1/conversations/{conversation_id}")).json()
    listed = (await api.get("/api/v1/conversations")).json()[0]
    assert {k: detail[k] for k in listed} == listed  # the list's fields, and more
    assert detail["messages_from_contact"] == 2
    assert detail["messages_from_agents"] == 2
    assert detail["first_response_seconds"] == 90
    assert detail["last_customer_message_at"] == "2026-11-27T12:10:00Z"
    assert detail["window_expires_at"] == "2026-11-28T12:10:00Z"
    assert detail["window_open"] is True

    world.clock.advance(hours=25)
    assert (await api.get(f"/api/v1/conversations/{conversation_id}")).json()[
        "window_open"
    ] is False


async def test_no_answer_yet_has_no_first_response_and_unknown_is_404(api: Api) -> None:
    conversation_id = await _customer_writes(api.world)
    detail = (await api.get(f"/api/v1/conversations/{conversation_id}")).json()
    assert detail["first_response_seconds"] is None and detail["messages_from_agents"] == 0
    missing = await api.get("/api/v1/conversations/99999")
    assert missing.status_code == 404 and missing.json() == {"detail": "conversation not found"}


# --- sending -----------------------------------------------------------------------------------


async def test_a_text_is_stored_pending_shown_in_the_thread_and_sent(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    response = await api.post(conversation_id, {"message_type": "text", "content": {"text": "Hi!"}})

    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["status"] == "pending" and sent["whatsapp_message_id"] is None
    assert (sent["direction"], sent["sender_type"]) == ("outbound", "bot")
    assert (sent["message_type"], sent["content"]) == ("text", {"text": "Hi!"})
    assert sent["conversation_id"] == conversation_id
    stored = (await api.get(f"/api/v1/conversations/{conversation_id}/messages")).json()
    assert stored[-1] == sent

    await world.drain()
    assert world.whatsapp.sent == [
        {"phone_number_id": payloads.PHONE_NUMBER_ID, "to": ADA, "text": "Hi!"}
    ]
    assert world.chat.thread(await world.thread())[-1] == "api:text:Hi!"
    after = (await api.get(f"/api/v1/conversations/{conversation_id}/messages")).json()[-1]
    assert after["id"] == sent["id"] and after["status"] == "sent"
    assert after["whatsapp_message_id"] == "wamid.OUT1"


async def test_outside_the_window_only_a_template_goes(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    async with world.uow() as uow:
        await uow.templates.replace_all(WABA, [ORDER_UPDATE], now=T0)
        await uow.commit()
    world.clock.advance(hours=24, seconds=1)

    refused = await api.post(conversation_id, {"message_type": "text", "content": {"text": "Hi"}})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["reason"] == "window_expired"
    assert detail["window_expires_at"] == "2026-11-28T12:00:00Z" and "template" in detail["message"]

    by_params = {"name": "order_update", "language": "en", "params": ["Ada", "A-7"]}
    by_components = {
        "name": "order_update",
        "language": "en",
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Bo"}, {"type": "text", "text": "B-8"}],
            }
        ],
    }
    for content in (by_params, by_components):
        response = await api.post(conversation_id, {"message_type": "template", "content": content})
        assert response.status_code == 201, response.text
        assert response.json()["content"]["name"] == "order_update"
    await world.drain()

    assert world.whatsapp.sent == [
        {"to": ADA, "template": "order_update", "values": {"body.1": "Ada", "body.2": "A-7"}},
        {"to": ADA, "template": "order_update", "values": {"body.1": "Bo", "body.2": "B-8"}},
    ]
    thread = world.chat.thread(await world.thread())
    assert "api:template:Hello Ada, your order A-7 has shipped." in thread
    assert [m.message_type for m in await api.messages(conversation_id)] == [
        "text",
        "template",
        "template",
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"message_type": "text", "content": {"text": "  "}}, ["body", "content", "text"]),
        ({"message_type": "text", "content": {"text": "x" * 4097}}, ["body", "content", "text"]),
        ({"message_type": "text", "content": {}}, ["body", "content", "text"]),
        ({"message_type": "carrier_pigeon", "content": {}}, ["body", "message_type"]),
        ({"message_type": "text"}, ["body", "content"]),
        (
            {"message_type": "template", "content": {"name": "order_update", "language": "en"}},
            ["body", "content", "params"],
        ),
        (
            {
                "message_type": "template",
                "content": {"name": "order_update", "language": "en", "params": ["Ada", " "]},
            },
            ["body", "content", "params", 1],
        ),
        (
            {
                "message_type": "template",
                "content": {
                    "name": "order_update",
                    "language": "en",
                    "components": [
                        {"type": "body", "parameters": [{"type": "text"}, {"type": "text"}]}
                    ],
                },
            },
            ["body", "content", "components", 0, "parameters", 0],
        ),
        (
            {
                "message_type": "template",
                "content": {"name": "order_update", "language": "en", "text": "sneaky"},
            },
            ["body", "content", "text"],
        ),
        (
            {"message_type": "image", "content": {"caption": "no picture"}},
            ["body", "content", "url"],
        ),
        (
            {"message_type": "location", "content": {"latitude": 91, "longitude": 0}},
            ["body", "content", "latitude"],
        ),
        (
            {
                "message_type": "interactive",
                "content": {
                    "type": "button",
                    "body": "Which one?",
                    "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B" * 40}],
                },
            },
            ["body", "content", "buttons", 1, "title"],
        ),
    ],
)
async def test_bad_content_is_422_with_the_field_and_nothing_is_stored(
    api: Api, body: dict[str, Any], loc: list[str | int]
) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    async with world.uow() as uow:
        await uow.templates.replace_all(WABA, [ORDER_UPDATE], now=T0)
        await uow.commit()
    response = await api.post(conversation_id, body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    await world.drain()
    assert len(await api.messages(conversation_id)) == 1 and world.whatsapp.calls == 0


@pytest.mark.parametrize(
    ("message_type", "content"),
    [
        ("image", {"url": "https://example.com/parcel.jpg", "caption": "Your parcel"}),
        ("document", {"media_id": "1234567890", "filename": "invoice.pdf"}),
        ("audio", {"url": "https://example.com/hello.ogg"}),
        ("video", {"url": "https://example.com/how-to.mp4", "caption": "How to"}),
        ("sticker", {"media_id": "998877"}),
        ("location", {"latitude": 52.52, "longitude": 13.405, "name": "Our shop"}),
    ],
)
async def test_other_types_are_stored_and_queued(
    api: Api, message_type: str, content: dict[str, Any]
) -> None:
    # Sending these is SendReply's, once it knows every type; here: taken, stored, queued.
    world = api.world
    conversation_id = await _customer_writes(world)
    response = await api.post(conversation_id, {"message_type": message_type, "content": content})
    assert response.status_code == 201, response.text
    assert (response.json()["message_type"], response.json()["content"]) == (message_type, content)
    [_, stored] = await api.messages(conversation_id)
    assert (stored.message_type, stored.content, stored.id) == (
        message_type,
        content,
        response.json()["id"],
    )
    queued = [(kind, state) for kind, state, _ in await world.job_states() if state == "pending"]
    assert queued == [("post_agent_message", "pending"), ("send_reply", "pending")]


async def test_template_short_forms_fill_the_template(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    welcome = MessageTemplate(
        name="welcome",
        language="de",
        category="UTILITY",
        status="APPROVED",
        parameter_format="NAMED",
        header_kind="IMAGE",
        body_text="Hallo {{first_name}}!",
        buttons=("Track",),
        button_urls=("https://example.com/track/{{1}}",),
        placeholders=(
            Placeholder(part=Part.HEADER, name="media"),
            Placeholder(part=Part.BODY, name="first_name"),
            Placeholder(part=Part.BUTTON, name="1", button=0),
        ),
    )
    async with world.uow() as uow:
        await uow.templates.replace_all(WABA, [welcome], now=T0)
        await uow.commit()
    content = {
        "name": "welcome",
        "language": "de",
        "header": {"type": "image", "url": "https://example.com/hi.png"},
        "params": {"first_name": "Ada"},
        "buttons": [{"sub_type": "url", "index": 0, "text": "A-1"}],
    }
    response = await api.post(conversation_id, {"message_type": "template", "content": content})
    assert response.status_code == 201, response.text
    await world.drain()
    assert world.whatsapp.sent[-1]["values"] == {
        "header.media": "https://example.com/hi.png",
        "body.first_name": "Ada",
        "button0.1": "A-1",
    }
    # A named value the template does not have is refused where it was given.
    content["params"] = {"nickname": "Ada"}
    refused = await api.post(conversation_id, {"message_type": "template", "content": content})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "content", "params"]


async def test_templates_must_be_known_and_approved(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    paused = MessageTemplate(
        name="promo", language="en", category="MARKETING", status="PAUSED", body_text="Sale!"
    )
    async with world.uow() as uow:
        await uow.templates.replace_all(WABA, [ORDER_UPDATE, paused], now=T0)
        await uow.commit()
    for name, language, reason in (
        ("nope", "en", "unknown_template"),
        ("order_update", "de", "unknown_template"),
        ("promo", "en", "template_not_usable"),
    ):
        content = {"name": name, "language": language}
        response = await api.post(conversation_id, {"message_type": "template", "content": content})
        assert response.status_code == 422
        assert response.json()["detail"]["reason"] == reason


async def test_unknown_conversation_is_404(api: Api) -> None:
    response = await api.post(99999, {"message_type": "text", "content": {"text": "Hi"}})
    assert response.status_code == 404


# --- idempotency -------------------------------------------------------------------------------


async def test_a_retry_with_the_same_key_answers_the_first_and_sends_once(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    body = {"message_type": "text", "content": {"text": "Once only"}}
    first = await api.post(conversation_id, body, key="order-42-shipped")
    again = await api.post(conversation_id, body, key="order-42-shipped")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers

    await world.drain()
    # Once it was sent, the customer reacted to it and the window closed, a retry still gets
    # the first answer, word for word, and nothing more is sent.
    [stored] = [m for m in await api.messages(conversation_id) if m.id == first.json()["id"]]
    reaction = {"message_id": stored.wamid, "emoji": "👍"}
    item = {"from": "4915112345678", "id": "wamid.R", "timestamp": str(int(T0.timestamp()))}
    await world.webhook(payloads.messages({**item, "type": "reaction", "reaction": reaction}))
    await world.drain()
    world.clock.advance(hours=30)
    late = await api.post(conversation_id, body, key="order-42-shipped")
    assert (late.status_code, late.json()) == (201, first.json())
    assert first.json()["status"] == "pending"
    # Where it stands now is in the conversation's messages.
    [now] = [m for m in await api.messages(conversation_id) if m.id == first.json()["id"]]
    assert now.status == "sent" and now.content["customer_reaction"] == "👍"
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Once only"]
    assert len(world.chat.thread(await world.thread())) == 2  # the customer's, and ours once

    # Another key is another message.
    world.clock.advance(hours=-30)
    other = await api.post(conversation_id, body, key="order-43-shipped")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


async def test_the_same_key_with_another_request_is_refused(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    other_conversation = await _customer_writes(world, wa_id="4917000000002")
    body = {"message_type": "text", "content": {"text": "First"}}
    assert (await api.post(conversation_id, body, key="k-1")).status_code == 201
    for changed, where in (
        ({"message_type": "text", "content": {"text": "Second"}}, conversation_id),
        (body, other_conversation),
    ):
        response = await api.post(where, changed, key="k-1")
        assert response.status_code == 422
        assert response.json()["detail"]["reason"] == "idempotency_key_reused"
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["First"]


async def test_concurrent_requests_with_one_key_send_once(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    body = {"message_type": "text", "content": {"text": "Racing"}}
    responses = await asyncio.gather(
        *(api.post(conversation_id, body, key="race-1") for _ in range(5))
    )
    assert [r.status_code for r in responses] == [201] * 5
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 4
    assert len({r.json()["id"] for r in responses}) == 1
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Racing"]


class _Gate:
    """A unit-of-work factory that holds each task's second unit of work (a send's insert)
    until two tasks have reached it: both requests have looked the key up and found nothing."""

    def __init__(self, inner: SqlUnitOfWorkFactory) -> None:
        self._inner = inner
        self._seen: dict[asyncio.Task[Any] | None, int] = {}
        self._barrier = asyncio.Barrier(2)

    def __call__(self) -> Any:
        gate = self

        class Unit:
            async def __aenter__(self) -> Any:
                task = asyncio.current_task()
                gate._seen[task] = gate._seen.get(task, 0) + 1
                if gate._seen[task] == 2:
                    await gate._barrier.wait()
                self._unit = gate._inner()
                return await self._unit.__aenter__()

            async def __aexit__(self, *exc: Any) -> None:
                await self._unit.__aexit__(*exc)

        return Unit()


async def test_two_requests_that_both_found_no_key_still_store_and_send_once(api: Api) -> None:
    world = api.world
    conversation_id = await _customer_writes(world)
    templates = Templates(uow=world.uow, whatsapp=world.whatsapp, clock=world.clock, waba_id=WABA)
    gated = RestApi(
        uow=_Gate(world.uow), clock=world.clock, content=ContentRules(), templates=templates
    )

    async def send() -> Any:
        return await gated.send(
            conversation_id=conversation_id,
            message_type="text",
            content={"text": "Both at once"},
            idempotency_key="both",
        )

    one, two = await asyncio.wait_for(asyncio.gather(send(), send()), timeout=30)
    assert one.message.id == two.message.id
    assert sorted([one.created, two.created]) == [False, True]
    await world.drain()
    assert [m["text"] for m in world.whatsapp.sent] == ["Both at once"]
    assert [job for job in await world.job_states("send_reply")] == [("send_reply", "done", None)]


# --- the token ---------------------------------------------------------------------------------


ROUTES = [
    ("GET", "/api/v1/conversations"),
    ("GET", "/api/v1/conversations/{id}"),
    ("GET", "/api/v1/conversations/{id}/messages"),
    ("POST", "/api/v1/conversations/{id}/messages"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_the_token(api: Api, method: str, path: str) -> None:
    conversation_id = await _customer_writes(api.world)
    body = {"message_type": "text", "content": {"text": "Hi"}}
    url = path.format(id=conversation_id)
    assert (await api.client.request(method, url, headers=AUTH, json=body)).is_success
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await api.client.request(method, url, headers=headers, json=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    await api.world.drain()
    sent_with_the_token = 1 if method == "POST" else 0
    assert len(api.world.whatsapp.sent) == sent_with_the_token


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_is_closed_while_no_token_is_set(
    world: World, method: str, path: str
) -> None:
    conversation_id = await _customer_writes(world)
    app = create_app(_deps(world, _rest(world), api_token=None))
    body = {"message_type": "text", "content": {"text": "Hi"}}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
            url = path.format(id=conversation_id)
            response = await client.request(method, url, headers=headers, json=body)
            assert response.status_code == 401
    await world.drain()
    assert world.whatsapp.sent == []
