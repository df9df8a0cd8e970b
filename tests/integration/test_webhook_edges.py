"""``POST /webhooks/whatsapp`` at its edges: signatures malformed or doubled, the 1 MiB cap
exactly, bodies streamed without a length, bytes that are not UTF-8, any content type, an
empty body. Each answered as CONTRACT.md says, and nothing stored where it says so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from bridge.workers import InboxWorker
from storage.uow import SqlUnitOfWorkFactory
from tests import payloads
from tests.fakes import T0, FakeClock
from tests.integration.test_web import SECRET, _deps
from tests.integration.world import number_book
from webhook_server.app import MAX_WEBHOOK_BYTES, create_app
from whatsapp.signature import sign
from whatsapp.webhooks import WebhookParser

URL = "/webhooks/whatsapp"
BODY = payloads.messages(payloads.text("wamid.A", "hi", at=T0))
HEX = sign(SECRET, BODY).removeprefix("sha256=")


@pytest.fixture
async def client(uow_factory: SqlUnitOfWorkFactory) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(_deps(uow_factory)))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _inbox(uow: SqlUnitOfWorkFactory) -> list[tuple[str, bytes]]:
    async with uow.engine.connect() as connection:
        rows = await connection.execute(text("SELECT state, body FROM webhook_inbox ORDER BY id"))
        return [(r[0], bytes(r[1])) for r in rows]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256=",
        "sha256",
        f"sha1={HEX}",
        f"SHA256={HEX}",
        f"sha256:{HEX}",
        f"sha256={HEX[:-1]}",
        f"sha256={HEX}0",
        f"sha256={HEX[:32]} {HEX[32:]}",
        f"sha256= {HEX[:-2]}",
        "sha256=" + "g" * 64,
    ],
)
async def test_a_malformed_signature_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory, header: str
) -> None:
    response = await client.post(URL, content=BODY, headers={"X-Hub-Signature-256": header})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert await _inbox(uow_factory) == []


@pytest.mark.parametrize(
    "header",
    [f"sha256={HEX.upper()}", f"sha256={HEX}  ", f"  sha256={HEX}"],
    ids=["uppercase hex", "trailing spaces", "leading spaces"],
)
async def test_the_same_hmac_written_otherwise_is_accepted(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory, header: str
) -> None:
    """Hex is hex in either case, and spaces around a header value are not part of it (RFC
    9110's optional whitespace); the HMAC itself must be exact."""
    response = await client.post(URL, content=BODY, headers={"X-Hub-Signature-256": header})
    assert response.status_code == 200
    assert await _inbox(uow_factory) == [("pending", BODY)]


@pytest.mark.parametrize("order", ["right first", "wrong first", "both right"])
async def test_two_signature_headers_are_refused(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory, order: str
) -> None:
    right, wrong = f"sha256={HEX}", "sha256=" + "0" * 64
    pair = {"right first": [right, wrong], "wrong first": [wrong, right]}.get(order, [right] * 2)
    headers = [("X-Hub-Signature-256", value) for value in pair]
    response = await client.post(URL, content=BODY, headers=headers)
    assert response.status_code == 401
    assert await _inbox(uow_factory) == []


async def test_a_signature_over_another_encoding_of_the_same_json_is_401(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    payload = {"entry": [], "name": "Zoë"}
    signed = json.dumps(payload, ensure_ascii=False).encode()  # "Zoë" as UTF-8
    sent = json.dumps(payload).encode()  # "Zo\u00eb": the same JSON, other bytes
    response = await client.post(
        URL, content=sent, headers={"X-Hub-Signature-256": sign(SECRET, signed)}
    )
    assert response.status_code == 401
    reindented = json.dumps(json.loads(BODY), indent=2).encode()
    response = await client.post(
        URL, content=reindented, headers={"X-Hub-Signature-256": sign(SECRET, BODY)}
    )
    assert response.status_code == 401
    assert await _inbox(uow_factory) == []


async def test_exactly_one_mebibyte_is_taken_and_one_byte_more_is_413(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    at_cap = BODY[:-1] + b" " * (MAX_WEBHOOK_BYTES - len(BODY)) + BODY[-1:]
    assert len(at_cap) == MAX_WEBHOOK_BYTES
    over = at_cap + b" "
    for body, status in ((over, 413), (at_cap, 200)):
        response = await client.post(
            URL, content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
        )
        assert response.status_code == status
    assert await _inbox(uow_factory) == [("pending", at_cap)]


async def test_a_streamed_body_without_a_length_is_cut_at_the_cap(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    body = b"{" + b" " * MAX_WEBHOOK_BYTES + b"}"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    request = client.build_request(
        "POST", URL, content=chunks(), headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert (await client.send(request)).status_code == 413
    assert await _inbox(uow_factory) == []


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe{}", '{"entry": []}'.encode("utf-16"), b'{"entry": [], "x": "\xc3"}', b""],
    ids=["not UTF-8", "UTF-16", "truncated UTF-8", "empty"],
)
async def test_signed_bytes_that_are_not_json_text_are_kept_dead_and_answered_200(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory, body: bytes
) -> None:
    response = await client.post(
        URL, content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)}
    )
    assert response.status_code == 200
    assert await _inbox(uow_factory) == [("pending", body)]  # stored as it came
    inbox = InboxWorker(
        uow=uow_factory, parser=WebhookParser(), clock=FakeClock(), numbers=number_book(uow_factory)
    )
    assert await inbox.run_once() == 1
    assert await _inbox(uow_factory) == [("failed", body)]


async def test_an_unsigned_empty_body_is_401(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory
) -> None:
    assert (await client.post(URL, content=b"")).status_code == 401
    assert await _inbox(uow_factory) == []


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
async def test_the_content_type_does_not_matter_the_signature_does(
    client: httpx.AsyncClient, uow_factory: SqlUnitOfWorkFactory, content_type: str | None
) -> None:
    headers = {"X-Hub-Signature-256": sign(SECRET, BODY)}
    if content_type is not None:
        headers["Content-Type"] = content_type
    assert (await client.post(URL, content=BODY, headers=headers)).status_code == 200
    headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    assert (await client.post(URL, content=BODY, headers=headers)).status_code == 401
    assert await _inbox(uow_factory) == [("pending", BODY)]
