"""The Graph API client against a faked Meta (respx): requests, answers, retries and secrecy."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from bridge.domain import DeliveryProblem, FailureKind
from bridge.errors import DeliveryError
from bridge.ports import WhatsApp
from whatsapp import MediaInfo, MetaAPIError, MetaTransportError, WhatsAppClient

BASE = "https://graph.test"
VERSION = "v23.0"
TOKEN = "EAAG-very-secret-token"
PNID = "1000000001"
MESSAGES = f"{BASE}/{VERSION}/{PNID}/messages"
WAMID = "wamid.HBgLNDkxNTEwMDAwMDAwFQIAERgSQUJD"


def accepted(wamid: str = WAMID) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "4915100000000", "wa_id": "4915100000000"}],
            "messages": [{"id": wamid}],
        },
    )


def meta_error(code: int, title: str, *, status: int = 400, details: str = "") -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {
                "message": f"(#{code}) {title}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": "Atrace123",
            }
        },
    )


@pytest.fixture
def meta() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


# Building an SSL context costs tens of milliseconds; one for all tests keeps the run fast.
TLS = ssl.create_default_context()


@pytest.fixture
async def client() -> AsyncIterator[WhatsAppClient]:
    async with (
        httpx.AsyncClient(verify=TLS) as http,
        WhatsAppClient(
            base_url=BASE, version=VERSION, access_token=TOKEN, http=http, max_attempts=3, backoff=0
        ) as whatsapp,
    ):
        yield whatsapp


def sent_json(route: respx.Route, call: int = -1) -> Any:
    return json.loads(route.calls[call].request.content)


async def test_the_client_satisfies_the_core_port(client: WhatsAppClient) -> None:
    port: WhatsApp = client  # checked by mypy: the structural match with bridge.ports
    assert port is client


# --- sending -------------------------------------------------------------------------------


async def test_send_text_posts_the_payload_with_the_bearer_token(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(return_value=accepted())
    wamid = await client.send_text(
        phone_number_id=PNID, to="+4915100000000", text="Hello", reply_to="wamid.prev"
    )
    assert wamid == WAMID
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+4915100000000",
        "type": "text",
        "text": {"body": "Hello"},
        "context": {"message_id": "wamid.prev"},
    }


async def test_send_template(meta: respx.MockRouter, client: WhatsAppClient) -> None:
    from whatsapp.templates import parse_template

    route = meta.post(MESSAGES).mock(return_value=accepted("wamid.T"))
    template = parse_template(
        {
            "name": "hello",
            "language": "en",
            "status": "APPROVED",
            "components": [{"type": "BODY", "text": "Hi {{1}}"}],
        }
    )
    wamid = await client.send_template(
        phone_number_id=PNID, to="4915100000000", template=template, values={"body.1": "Ada"}
    )
    assert wamid == "wamid.T"
    assert sent_json(route)["template"] == {
        "name": "hello",
        "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
    }


async def test_templates_are_parsed_from_every_page(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    meta.get(f"{BASE}/{VERSION}/WABA1/message_templates").mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "data": [{"name": "a", "language": "en", "status": "APPROVED"}],
                    "paging": {"cursors": {"after": "c1"}, "next": "more"},
                },
            ),
            httpx.Response(
                200, json={"data": [{"name": "b", "language": "de", "status": "PAUSED"}]}
            ),
        ]
    )
    templates = await client.templates("WABA1")
    assert [(t.name, t.language, t.usable) for t in templates] == [
        ("a", "en", True),
        ("b", "de", False),
    ]


async def test_send_payload_sends_any_built_payload(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(return_value=accepted())
    payload = {"messaging_product": "whatsapp", "type": "image", "image": {"id": "m1"}}
    assert await client.send_payload(PNID, payload) == WAMID
    assert sent_json(route) == payload


async def test_mark_read_posts_the_read_status(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(return_value=httpx.Response(200, json={"success": True}))
    await client.mark_read(phone_number_id=PNID, wamid="wamid.in")
    assert sent_json(route) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.in",
    }


async def test_a_success_without_a_message_id_is_an_error(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    meta.post(MESSAGES).mock(return_value=httpx.Response(200, json={"messages": []}))
    with pytest.raises(MetaAPIError, match="no message id"):
        await client.send_text(phone_number_id=PNID, to="1", text="hi")


# --- errors and retries --------------------------------------------------------------------


async def test_an_error_envelope_becomes_a_meta_api_error(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(
        return_value=meta_error(131047, "Re-engagement message", details="24 hours passed")
    )
    with pytest.raises(MetaAPIError) as caught:
        await client.send_text(phone_number_id=PNID, to="1", text="hi")
    error = caught.value
    assert isinstance(error, DeliveryError)
    assert (error.code, error.title, error.details) == (
        131047,
        "Re-engagement message",
        "24 hours passed",
    )
    assert (error.fbtrace_id, error.http_status, error.transient) == ("Atrace123", 400, False)
    assert route.call_count == 1  # never retried


async def test_a_bad_token_is_not_retried(meta: respx.MockRouter, client: WhatsAppClient) -> None:
    route = meta.post(MESSAGES).mock(
        return_value=meta_error(190, "Error validating access token", status=401)
    )
    with pytest.raises(MetaAPIError) as caught:
        await client.send_text(phone_number_id=PNID, to="1", text="hi")
    assert (caught.value.code, route.call_count) == (190, 1)


@pytest.mark.parametrize(
    "failure",
    [
        meta_error(131056, "(Business Account, Consumer Account) pair rate limit hit"),
        meta_error(130429, "Rate limit hit"),
        httpx.Response(500, text="Internal Server Error"),
        meta_error(131000, "Something went wrong", status=500),
    ],
    ids=["131056", "130429", "500", "131000"],
)
async def test_transient_failures_are_retried_until_success(
    meta: respx.MockRouter, client: WhatsAppClient, failure: httpx.Response
) -> None:
    route = meta.post(MESSAGES).mock(side_effect=[failure, failure, accepted()])
    assert await client.send_text(phone_number_id=PNID, to="1", text="hi") == WAMID
    assert route.call_count == 3


async def test_the_last_transient_error_is_raised_after_max_attempts(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(return_value=meta_error(130429, "Rate limit hit"))
    with pytest.raises(MetaAPIError) as caught:
        await client.send_text(phone_number_id=PNID, to="1", text="hi")
    assert (caught.value.code, caught.value.transient, route.call_count) == (130429, True, 3)


async def test_a_send_that_could_not_connect_is_retried(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(MetaTransportError) as caught:
        await client.send_text(phone_number_id=PNID, to="1", text="hi")
    assert caught.value.kind == FailureKind.TRANSIENT
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")],
    ids=["read-timeout", "reset"],
)
async def test_a_send_whose_answer_never_came_is_never_repeated(
    meta: respx.MockRouter, client: WhatsAppClient, failure: Exception
) -> None:
    """The request may have reached Meta: sending again could deliver it twice."""
    route = meta.post(MESSAGES).mock(side_effect=failure)
    with pytest.raises(MetaTransportError) as caught:
        await client.send_text(phone_number_id=PNID, to="1", text="hi")
    assert caught.value.kind == FailureKind.UNKNOWN_OUTCOME
    assert route.call_count == 1


async def test_a_read_that_timed_out_is_retried(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.get(f"{BASE}/{VERSION}/9").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(MetaTransportError) as caught:
        await client.get_media("9")
    assert caught.value.kind == FailureKind.TRANSIENT
    assert route.call_count == 3


async def test_a_message_meta_would_refuse_fails_before_any_call(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    route = meta.post(MESSAGES).mock(return_value=accepted())
    with pytest.raises(DeliveryError) as caught:
        await client.send_text(phone_number_id=PNID, to="1", text="x" * 5000)
    assert caught.value.kind == FailureKind.PERMANENT
    assert caught.value.reason == "meta:invalid_payload"
    assert route.call_count == 0


async def test_a_network_blip_then_success(meta: respx.MockRouter, client: WhatsAppClient) -> None:
    meta.post(MESSAGES).mock(side_effect=[httpx.ConnectError("refused"), accepted()])
    assert await client.send_text(phone_number_id=PNID, to="1", text="hi") == WAMID


async def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    async with WhatsAppClient(
        base_url=BASE, version=VERSION, access_token=TOKEN, backoff=0.5
    ) as client:
        for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0)]:
            for _ in range(20):
                assert step <= client._delay(attempt) <= step + 0.5


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        WhatsAppClient(base_url=BASE, version=VERSION, access_token=TOKEN, max_attempts=0)


# --- media and templates -------------------------------------------------------------------


async def test_get_media_then_download_with_the_bearer_token(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    cdn = "https://lookaside.fbsbx.test/whatsapp_business/attachments/?mid=77&ext=1&hash=x"
    meta.get(f"{BASE}/{VERSION}/77").mock(
        return_value=httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "url": cdn,
                "mime_type": "image/jpeg",
                "sha256": "abc",
                "file_size": "1234",
                "id": "77",
            },
        )
    )
    download = meta.get(cdn).mock(return_value=httpx.Response(200, content=b"\xff\xd8jpeg"))
    info = await client.get_media("77")
    assert info == MediaInfo(id="77", url=cdn, mime_type="image/jpeg", sha256="abc", file_size=1234)
    assert await client.download_media(info.url) == b"\xff\xd8jpeg"
    assert download.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_media_answer_without_url_is_an_error(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    meta.get(f"{BASE}/{VERSION}/78").mock(return_value=httpx.Response(200, json={"id": "78"}))
    with pytest.raises(MetaAPIError, match="no download URL"):
        await client.get_media("78")


async def test_an_expired_media_url_is_an_error(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    cdn = "https://lookaside.fbsbx.test/x"
    meta.get(cdn).mock(return_value=httpx.Response(404, text="Not Found"))
    with pytest.raises(MetaAPIError) as caught:
        await client.download_media(cdn)
    assert (caught.value.http_status, caught.value.transient) == (404, False)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (403, FailureKind.TRANSIENT),  # the signed link expired: a retry asks for a new one
        (401, FailureKind.TRANSIENT),
        (404, FailureKind.PERMANENT),  # the file is gone
        (503, FailureKind.TRANSIENT),
    ],
)
async def test_a_refused_file_link_is_no_credentials_problem(
    meta: respx.MockRouter, client: WhatsAppClient, tmp_path: Path, status: int, kind: FailureKind
) -> None:
    """The Graph API just gave the link, so our token works: a CDN refusing the link itself
    must not pause work as refused credentials would."""
    cdn = "https://lookaside.fbsbx.test/x"
    meta.get(f"{BASE}/{VERSION}/79").mock(
        return_value=httpx.Response(200, json={"url": cdn, "mime_type": "image/jpeg", "id": "79"})
    )
    meta.get(cdn).mock(return_value=httpx.Response(status, text="Forbidden"))
    with pytest.raises(MetaAPIError) as caught:
        await client.fetch_media("79", tmp_path / "media", max_bytes=10)
    assert caught.value.kind == kind
    assert caught.value.problem == DeliveryProblem.MEDIA_FAILED
    assert caught.value.title == f"The file's download link answered HTTP {status}"


async def test_a_media_id_meta_no_longer_has_is_a_file_gone(
    meta: respx.MockRouter, client: WhatsAppClient, tmp_path: Path
) -> None:
    meta.get(f"{BASE}/{VERSION}/80").mock(
        return_value=httpx.Response(
            400, json={"error": {"message": "Unsupported get request", "code": 100}}
        )
    )
    with pytest.raises(MetaAPIError) as caught:
        await client.fetch_media("80", tmp_path / "media", max_bytes=10)
    assert (caught.value.kind, caught.value.problem) == (
        FailureKind.PERMANENT,
        DeliveryProblem.MEDIA_GONE,
    )


async def test_list_templates_follows_every_page(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    url = f"{BASE}/{VERSION}/WABA1/message_templates"
    first = {
        "data": [{"name": "a", "language": "en"}, {"name": "b", "language": "en"}],
        "paging": {"cursors": {"before": "B1", "after": "A1"}, "next": f"{url}?after=A1"},
    }
    last = {"data": [{"name": "c", "language": "de"}], "paging": {"cursors": {"before": "B2"}}}
    route = meta.get(url).mock(
        side_effect=lambda request: httpx.Response(
            200, json=last if request.url.params.get("after") == "A1" else first
        )
    )
    templates = await client.list_templates("WABA1")
    assert [t["name"] for t in templates] == ["a", "b", "c"]
    assert route.call_count == 2
    assert route.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_list_templates_does_not_follow_a_foreign_next_link(
    meta: respx.MockRouter, client: WhatsAppClient
) -> None:
    url = f"{BASE}/{VERSION}/WABA1/message_templates"
    page = {"data": [{"name": "a"}], "paging": {"next": "https://evil.test/steal"}}
    meta.get(url).mock(return_value=httpx.Response(200, json=page))
    evil = meta.get("https://evil.test/steal")
    assert [t["name"] for t in await client.list_templates("WABA1")] == ["a"]
    assert not evil.called


# --- secrecy -------------------------------------------------------------------------------


async def test_the_token_never_appears_in_errors_reprs_or_logs(
    meta: respx.MockRouter, client: WhatsAppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    meta.post(MESSAGES).mock(
        side_effect=[
            meta_error(130429, "Rate limit hit"),
            meta_error(190, "Error validating access token", status=401),
        ]
    )
    with pytest.raises(MetaAPIError) as api_error:
        await client.send_text(phone_number_id=PNID, to="1", text="a secret customer message")
    meta.get(f"{BASE}/{VERSION}/9").mock(side_effect=httpx.ConnectError(f"fail {TOKEN}"))
    with pytest.raises(MetaTransportError) as transport_error:
        await client.get_media("9")
    for error in (api_error.value, transport_error.value):
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
    assert TOKEN not in repr(client)
    assert caplog.records, "the client should have logged the failures"
    assert TOKEN not in caplog.text
    assert "a secret customer message" not in caplog.text
    fields = [vars(record) for record in caplog.records]
    assert any(f.get("fbtrace_id") == "Atrace123" for f in fields)
    assert any(f.get("error_code") == 130429 for f in fields)
    assert all(TOKEN not in repr(f) for f in fields)


async def test_a_given_http_client_is_not_closed() -> None:
    async with httpx.AsyncClient() as http:
        async with WhatsAppClient(base_url=BASE, version=VERSION, access_token=TOKEN, http=http):
            pass
        assert not http.is_closed


# --- several business numbers ------------------------------------------------------------------

OTHER = "2000000002"
OWN_TOKEN = "EAAG-the-sales-numbers-own-token"


async def test_a_number_with_its_own_token_is_called_with_it_and_others_with_the_default(
    meta: respx.MockRouter, tmp_path: Any
) -> None:
    async def token_for(phone_number_id: str) -> str | None:
        return OWN_TOKEN if phone_number_id == OTHER else None

    default_route = meta.post(MESSAGES).mock(return_value=accepted("wamid.A"))
    own_route = meta.post(f"{BASE}/{VERSION}/{OTHER}/messages").mock(
        return_value=accepted("wamid.B")
    )
    meta.get(f"{BASE}/{VERSION}/media-1").mock(
        return_value=httpx.Response(
            200,
            json={
                "url": "https://lookaside.test/media-1",
                "mime_type": "image/jpeg",
                "file_size": 3,
                "id": "media-1",
            },
        )
    )
    download = meta.get("https://lookaside.test/media-1").mock(
        return_value=httpx.Response(200, content=b"abc")
    )
    async with (
        httpx.AsyncClient(verify=TLS) as http,
        WhatsAppClient(
            base_url=BASE, version=VERSION, access_token=TOKEN, http=http, token_for=token_for
        ) as client,
    ):
        await client.send_text(phone_number_id=PNID, to="49151", text="hi")
        await client.send_text(phone_number_id=OTHER, to="49151", text="hi")
        await client.fetch_media("media-1", tmp_path / "media", max_bytes=10, phone_number_id=OTHER)
    bearer = "authorization"
    assert default_route.calls[0].request.headers[bearer] == f"Bearer {TOKEN}"
    assert own_route.calls[0].request.headers[bearer] == f"Bearer {OWN_TOKEN}"
    assert download.calls[0].request.headers[bearer] == f"Bearer {OWN_TOKEN}"


async def test_a_numbers_own_token_never_shows_in_an_error(
    meta: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    async def token_for(phone_number_id: str) -> str | None:
        return OWN_TOKEN

    meta.post(f"{BASE}/{VERSION}/{OTHER}/messages").mock(
        side_effect=httpx.ConnectError(f"refused for Bearer {OWN_TOKEN}")
    )
    caplog.set_level(logging.DEBUG)
    async with (
        httpx.AsyncClient(verify=TLS) as http,
        WhatsAppClient(
            base_url=BASE, version=VERSION, access_token=TOKEN, http=http, token_for=token_for
        ) as client,
    ):
        with pytest.raises(DeliveryError) as raised:
            await client.send_text(phone_number_id=OTHER, to="49151", text="hi")
    assert OWN_TOKEN not in str(raised.value)
    assert OWN_TOKEN not in caplog.text


async def test_a_call_to_meta_does_not_search_for_a_module_each_time() -> None:
    """httpcore asks which event loop runs on every request, through sniffio: not installed,
    each request searched every path entry for it, four times (0.35 ms of CPU per call)."""
    import importlib.machinery

    from httpcore._synchronization import current_async_library

    current_async_library()
    searched: list[str] = []
    real = importlib.machinery.PathFinder.find_spec

    def spying(name: str, *args: object, **kwargs: object) -> object:
        searched.append(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importlib.machinery.PathFinder, "find_spec", spying)
        assert current_async_library() == "asyncio"
    assert searched == []
