from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sandbox import MetaSimulator
from tests.unit.sandbox.conftest import META_SECRET, META_TOKEN, Receiver

AUTH = {"Authorization": f"Bearer {META_TOKEN}"}
TEXT = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "+4915112345678",
    "type": "text",
    "text": {"body": "Hello"},
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def _send(http: httpx.Client, meta: MetaSimulator, body: Any, **kw: Any) -> httpx.Response:
    version = kw.pop("version", "v23.0")
    number = kw.pop("number", meta.phone_number_id)
    headers = kw.pop("headers", AUTH)
    return http.post(f"{meta.url}/{version}/{number}/messages", json=body, headers=headers)


def _verify(body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def _statuses(receiver: Receiver) -> list[dict[str, Any]]:
    found = []
    for request in receiver.requests():
        value = json.loads(request.body)["entry"][0]["changes"][0]["value"]
        found += value.get("statuses", [])
    return found


def _assert_envelope(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert error["code"] == code
    assert error["message"].startswith(f"(#{code}) ")
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


# -- sending -------------------------------------------------------------------------------


def test_send_is_accepted_recorded_and_answered_like_meta(
    http: httpx.Client, meta: MetaSimulator
) -> None:
    response = _send(http, meta, TEXT, version="v99.0")
    assert response.status_code == 200
    data = response.json()
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"] == [{"input": "+4915112345678", "wa_id": "4915112345678"}]
    wamid = data["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert meta.sent_messages() == [TEXT]
    assert meta.sends() == [(wamid, TEXT)]
    [call] = meta.calls("/messages")
    assert (call.method, call.version, call.status) == ("POST", "v99.0", 200)
    assert call.path == f"/v99.0/{meta.phone_number_id}/messages"
    assert call.json == TEXT
    assert call.headers["authorization"] == f"Bearer {META_TOKEN}"


def test_a_send_cut_off_mid_body_is_not_recorded_and_logs_no_traceback(
    http: httpx.Client, meta: MetaSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The fault run kills the bridge mid-call: Meta never saw that request whole."""
    address = urlsplit(meta.url)
    body = json.dumps(TEXT).encode()
    head = (
        f"POST /v21.0/{meta.phone_number_id}/messages HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {META_TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with (
        caplog.at_level(logging.ERROR),
        socket.create_connection((address.hostname, address.port)) as cut,
    ):
        cut.sendall(head + body[:10])
    assert _send(http, meta, TEXT).status_code == 200  # the next one is served, and recorded
    assert len(meta.calls("/messages")) == 1
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def test_wamids_are_unique(http: httpx.Client, meta: MetaSimulator) -> None:
    meta.auto_statuses = ()
    ids = {_send(http, meta, TEXT).json()["messages"][0]["id"] for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": META_TOKEN}]
)
def test_bearer_token_is_checked(
    http: httpx.Client, meta: MetaSimulator, headers: dict[str, str]
) -> None:
    response = _send(http, meta, TEXT, headers=headers)
    _assert_envelope(response, 401, 190)
    assert meta.sent_messages() == []
    assert meta.calls()[0].status == 401


def test_unknown_phone_number_id(http: httpx.Client, meta: MetaSimulator) -> None:
    error = _assert_envelope(_send(http, meta, TEXT, number="999"), 400, 100)
    assert "999" in error["error_data"]["details"]
    meta.add_phone_number("999", "15550009999")
    assert _send(http, meta, TEXT, number="999").status_code == 200


VALID: dict[str, dict[str, Any]] = {
    "text-4096": {"type": "text", "text": {"body": "x" * 4096}},
    "default-type": {"text": {"body": "no type means text"}},
    "template": {
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    },
    "image": {"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "c"}},
    "document": {"type": "document", "document": {"id": "123", "filename": "a.pdf"}},
    "audio": {"type": "audio", "audio": {"id": "123"}},
    "video": {"type": "video", "video": {"id": "123"}},
    "sticker": {"type": "sticker", "sticker": {"id": "123"}},
    "location": {"type": "location", "location": {"latitude": 52.1, "longitude": "4.3"}},
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
    "interactive": {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Pick"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]},
        },
    },
    "contacts": {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ada"}}]},
    "quoted": {"type": "text", "text": {"body": "re"}, "context": {"message_id": "wamid.Y"}},
}


@pytest.mark.parametrize("extra", VALID.values(), ids=VALID.keys())
def test_valid_bodies_of_every_type_are_accepted(
    http: httpx.Client, meta: MetaSimulator, extra: dict[str, Any]
) -> None:
    meta.auto_statuses = ()
    body = {"messaging_product": "whatsapp", "to": "4915112345678", **extra}
    response = _send(http, meta, body)
    assert response.status_code == 200, response.text
    if extra.get("type") == "template":
        assert response.json()["messages"][0]["message_status"] == "accepted"


INVALID: dict[str, tuple[Any, str]] = {
    "product": ({**TEXT, "messaging_product": "sms"}, "messaging_product"),
    "no-to": ({k: v for k, v in TEXT.items() if k != "to"}, "to"),
    "unknown-type": ({**TEXT, "type": "hologram"}, "type"),
    "no-body": ({**TEXT, "text": {}}, "text['body']"),
    "text-4097": ({**TEXT, "text": {"body": "x" * 4097}}, "4096"),
    "template-no-name": (
        {**TEXT, "type": "template", "template": {"language": {"code": "en"}}},
        "template['name']",
    ),
    "template-no-language": (
        {**TEXT, "type": "template", "template": {"name": "hello_world", "language": {}}},
        "language",
    ),
    "image-id-and-link": (
        {**TEXT, "type": "image", "image": {"id": "1", "link": "https://x"}},
        "Exactly one",
    ),
    "caption-too-long": (
        {**TEXT, "type": "image", "image": {"id": "1", "caption": "c" * 1025}},
        "1024",
    ),
    "location-no-latitude": (
        {**TEXT, "type": "location", "location": {"longitude": 1}},
        "latitude",
    ),
    "not-an-object": ([1, 2], "object"),
}


@pytest.mark.parametrize(("body", "hint"), INVALID.values(), ids=INVALID.keys())
def test_invalid_bodies_get_code_100_with_details(
    http: httpx.Client, meta: MetaSimulator, body: Any, hint: str
) -> None:
    error = _assert_envelope(_send(http, meta, body), 400, 100)
    assert hint in error["error_data"]["details"]
    assert meta.sent_messages() == []


def test_mark_as_read(http: httpx.Client, meta: MetaSimulator, receiver: Receiver) -> None:
    body = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    response = _send(http, meta, body)
    assert response.json() == {"success": True}
    assert meta.read_marks() == ["wamid.IN1"]
    assert meta.sent_messages() == []
    assert meta.wait_idle(timeout=5)  # every status webhook it will send has gone out
    assert receiver.requests() == []


# -- failure injection ---------------------------------------------------------------------


def test_fail_next_answers_the_envelope_then_recovers(
    http: httpx.Client, meta: MetaSimulator
) -> None:
    meta.auto_statuses = ()
    meta.fail_next(131056, "Pair rate limit hit", "Too many messages", count=2)
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    assert _send(http, meta, read).status_code == 200  # mark-as-read does not consume it
    for _ in range(2):
        error = _assert_envelope(_send(http, meta, TEXT), 400, 131056)
        assert error["message"] == "(#131056) Pair rate limit hit"
        assert error["error_data"]["details"] == "Too many messages"
    assert _send(http, meta, TEXT).status_code == 200
    meta.fail_next(2, "Service temporarily unavailable", http_status=503)
    _assert_envelope(_send(http, meta, TEXT), 503, 2)
    assert len(meta.sent_messages()) == 1


def test_latency(http: httpx.Client, meta: MetaSimulator) -> None:
    meta.auto_statuses = ()
    meta.set_latency(0.2)
    started = time.monotonic()
    assert _send(http, meta, TEXT).status_code == 200
    assert time.monotonic() - started >= 0.2


# -- templates -----------------------------------------------------------------------------


def _templates_url(meta: MetaSimulator) -> str:
    return f"{meta.url}/v23.0/{meta.waba_id}/message_templates"


def test_default_templates_on_one_page(http: httpx.Client, meta: MetaSimulator) -> None:
    data = http.get(_templates_url(meta), headers=AUTH).json()
    names = {t["name"]: t for t in data["data"]}
    assert set(names) == {"hello_world", "order_update", "promo_paused"}
    assert names["hello_world"]["status"] == "APPROVED"
    assert names["promo_paused"]["status"] == "PAUSED"
    assert "next" not in data["paging"]
    body = next(c for c in names["order_update"]["components"] if c["type"] == "BODY")
    assert body["text"] == "Hi {{1}}, your order {{2}} has shipped."


def test_templates_cursor_paging(http: httpx.Client, meta: MetaSimulator) -> None:
    many = [
        {"name": f"t{i}", "language": "en", "status": "APPROVED", "category": "UTILITY"}
        for i in range(5)
    ]
    meta.set_templates(many)
    seen: list[str] = []
    url: str | None = _templates_url(meta) + "?limit=2"
    pages = 0
    while url:
        data = http.get(url, headers=AUTH).json()
        seen += [t["name"] for t in data["data"]]
        url = data["paging"].get("next")
        pages += 1
    assert seen == [f"t{i}" for i in range(5)]
    assert pages == 3
    approved = http.get(_templates_url(meta), params={"status": "PAUSED"}, headers=AUTH).json()
    assert approved["data"] == []
    _assert_envelope(http.get(_templates_url(meta)), 401, 190)


def _template(name: str, language: str, params: list[str] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params is not None:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        ]
    return {**TEXT, "type": "template", "template": template}


def test_template_sends_are_checked_against_the_waba(
    http: httpx.Client, meta: MetaSimulator
) -> None:
    meta.auto_statuses = ()
    assert _send(http, meta, _template("order_update", "en", ["Ada", "#1"])).status_code == 200
    _assert_envelope(_send(http, meta, _template("order_update", "en", ["Ada"])), 400, 132000)
    _assert_envelope(_send(http, meta, _template("order_update", "de", ["a", "b"])), 400, 132001)
    _assert_envelope(_send(http, meta, _template("nope", "en")), 400, 132001)
    _assert_envelope(_send(http, meta, _template("promo_paused", "en", ["x"])), 400, 132015)
    meta.check_templates = False
    assert _send(http, meta, _template("nope", "en")).status_code == 200


# -- media ---------------------------------------------------------------------------------


def test_registered_media_can_be_retrieved(http: httpx.Client, meta: MetaSimulator) -> None:
    content = b"\x89PNG fake image"
    meta.add_media("555", content, "image/png")
    info = http.get(f"{meta.url}/v23.0/555", headers=AUTH).json()
    assert info["id"] == "555"
    assert info["mime_type"] == "image/png"
    assert info["file_size"] == len(content)
    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert info["messaging_product"] == "whatsapp"
    assert info["url"] == f"{meta.url}/media-download/555"
    download = http.get(info["url"], headers=AUTH)
    assert download.content == content
    assert download.headers["content-type"] == "image/png"
    assert http.get(info["url"]).status_code == 401
    _assert_envelope(http.get(f"{meta.url}/v23.0/556", headers=AUTH), 400, 100)


def test_upload_media(http: httpx.Client, meta: MetaSimulator) -> None:
    content = bytes(range(256)) * 4
    response = http.post(
        f"{meta.url}/v23.0/{meta.phone_number_id}/media",
        headers=AUTH,
        data={"messaging_product": "whatsapp", "type": "application/pdf"},
        files={"file": ("doc.pdf", content, "application/pdf")},
    )
    media_id = response.json()["id"]
    assert meta.get_media(media_id) == (content, "application/pdf")
    info = http.get(f"{meta.url}/v23.0/{media_id}", headers=AUTH).json()
    assert http.get(info["url"], headers=AUTH).content == content
    [call] = [c for c in meta.calls("/media") if c.path.endswith("/media")]
    assert call.json["file"] == {
        "filename": "doc.pdf",
        "content_type": "application/pdf",
        "size": len(content),
    }


# -- status webhooks -----------------------------------------------------------------------


def test_statuses_follow_a_send_signed_and_in_order(
    http: httpx.Client, meta: MetaSimulator, receiver: Receiver
) -> None:
    wamid = _send(http, meta, TEXT).json()["messages"][0]["id"]
    assert meta.wait_for(lambda: len(receiver.requests()) == 3, timeout=5)
    for request in receiver.requests():
        assert _verify(request.body, request.headers["x-hub-signature-256"])
        assert request.headers["content-type"] == "application/json"
    statuses = _statuses(receiver)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    for status in statuses:
        assert status["id"] == wamid
        assert status["recipient_id"] == "4915112345678"
        assert status["timestamp"].isdigit()
    payload = json.loads(receiver.requests()[0].body)
    assert payload["object"] == "whatsapp_business_account"
    assert payload["entry"][0]["id"] == meta.waba_id
    change = payload["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    assert change["value"]["metadata"] == {
        "display_phone_number": meta.display_phone_number,
        "phone_number_id": meta.phone_number_id,
    }
    assert meta.wait_idle(5)
    assert [status for _, status in meta.webhook_deliveries()] == [200, 200, 200]


def test_a_reaction_only_gets_sent(
    http: httpx.Client, meta: MetaSimulator, receiver: Receiver
) -> None:
    body = {**TEXT, "type": "reaction", "reaction": {"message_id": "wamid.Z", "emoji": "👍"}}
    _send(http, meta, body)
    assert meta.wait_for(lambda: len(receiver.requests()) == 1, timeout=5)
    assert meta.wait_idle(timeout=5)  # every status webhook it will send has gone out
    assert [s["status"] for s in _statuses(receiver)] == ["sent"]


def test_a_voice_note_is_played_after_it_is_read(
    http: httpx.Client, meta: MetaSimulator, receiver: Receiver
) -> None:
    body = {**TEXT, "type": "audio", "audio": {"id": "123"}}
    del body["text"]
    wamid = _send(http, meta, body).json()["messages"][0]["id"]
    assert meta.wait_for(lambda: len(receiver.requests()) == 4, timeout=5)
    assert meta.wait_idle(timeout=5)
    statuses = _statuses(receiver)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read", "played"]
    assert {s["id"] for s in statuses} == {wamid}


def test_failed_deliveries_are_retried(
    http: httpx.Client, meta: MetaSimulator, receiver: Receiver
) -> None:
    meta.auto_statuses = ("sent",)
    receiver.answer_next(500, 503)
    _send(http, meta, TEXT)
    assert meta.wait_for(lambda: len(receiver.requests()) == 3, timeout=5)
    assert meta.wait_idle(5)
    assert [status for _, status in meta.webhook_deliveries()] == [500, 503, 200]
    assert receiver.requests()[0].body == receiver.requests()[2].body


def test_unreachable_webhook_never_breaks_the_sim(http: httpx.Client, meta: MetaSimulator) -> None:
    meta.webhook_url = "http://127.0.0.1:9/unreachable"
    meta.auto_statuses = ("sent",)
    assert _send(http, meta, TEXT).status_code == 200
    assert meta.wait_for(lambda: len(meta.webhook_deliveries()) == 5, timeout=5)
    assert {status for _, status in meta.webhook_deliveries()} == {0}
    assert _send(http, meta, TEXT).status_code == 200


def test_send_that_fails_later_by_status(
    http: httpx.Client, meta: MetaSimulator, receiver: Receiver
) -> None:
    meta.fail_next_sends_with_status()
    wamid = _send(http, meta, TEXT).json()["messages"][0]["id"]
    assert meta.wait_for(lambda: len(receiver.requests()) == 1, timeout=5)
    assert meta.wait_idle(timeout=5)  # every status webhook it will send has gone out
    [status] = _statuses(receiver)
    assert status["id"] == wamid
    assert status["status"] == "failed"
    [error] = status["errors"]
    assert error["code"] == 131047
    assert error["title"] == "Re-engagement message"
    assert "24 hours" in error["error_data"]["details"]


# -- inbound webhooks ----------------------------------------------------------------------


def _shape(value: Any) -> Any:
    """The key structure of a JSON value, for comparing with Meta's recorded samples."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def test_text_webhook_has_the_shape_of_a_real_one(meta: MetaSimulator, shared_dir: Path) -> None:
    samples = json.loads((shared_dir / "meta/samples/pywa/message.json").read_text())
    real = samples["text"]
    for contact in real["entry"][0]["changes"][0]["value"]["contacts"]:
        # Business-scoped user ids are newer than the simulator's payloads.
        contact.pop("user_id", None)
        contact.pop("parent_user_id", None)
    built = meta.build_text_webhook(from_wa_id="4915112345678", name="Ada", text="Hi")
    assert _shape(built) == _shape(real)
    status_samples = json.loads((shared_dir / "meta/samples/pywa/message_status.json").read_text())
    real_status = status_samples["sent"]["entry"][0]["changes"][0]["value"]["statuses"][0]
    built_status = meta.build_status_webhook(wamid="wamid.A", status="sent", recipient_id="49")
    status = built_status["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert set(status) <= set(real_status)
    assert {"id", "status", "timestamp", "recipient_id"} <= set(status)


def test_post_webhook_signs_the_raw_body(meta: MetaSimulator, receiver: Receiver) -> None:
    wamid = meta.send_text("4915112345678", "Zoë", "Grüße 👋", timestamp=1_700_000_000)
    [request] = receiver.requests()
    assert _verify(request.body, request.headers["x-hub-signature-256"])
    assert request.headers["x-hub-signature-256"] == meta.sign(request.body)
    value = json.loads(request.body)["entry"][0]["changes"][0]["value"]
    assert value["contacts"] == [{"profile": {"name": "Zoë"}, "wa_id": "4915112345678"}]
    [message] = value["messages"]
    assert message == {
        "from": "4915112345678",
        "id": wamid,
        "timestamp": "1700000000",
        "text": {"body": "Grüße 👋"},
        "type": "text",
    }
    assert request.body.isascii()  # Meta escapes non-ASCII
    assert meta.webhook_deliveries()[0][1] == 200


def test_post_webhook_with_wrong_missing_or_explicit_signature(
    meta: MetaSimulator, receiver: Receiver
) -> None:
    payload = meta.build_text_webhook(from_wa_id="1", name="A", text="x", wamid="wamid.FIXED")
    meta.post_webhook(payload, signature="sha256=" + "0" * 64)
    meta.post_webhook(payload, sign=False)
    raw = b'{"object":"whatsapp_business_account","entry":[]}'
    meta.post_webhook(raw)
    first, second, third = receiver.requests()
    assert first.headers["x-hub-signature-256"] == "sha256=" + "0" * 64
    assert "x-hub-signature-256" not in second.headers
    assert third.body == raw
    assert _verify(raw, third.headers["x-hub-signature-256"])
    assert json.loads(first.body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"] == (
        "wamid.FIXED"
    )


def test_batch_webhook_keeps_order_across_contacts(meta: MetaSimulator) -> None:
    payload = meta.build_batch_webhook(
        [
            {"from_wa_id": "111", "name": "Ada", "text": "one"},
            {"from_wa_id": "222", "name": "Bob", "text": "two"},
            {"from_wa_id": "111", "name": "Ada", "text": "three"},
            {
                "from_wa_id": "222",
                "name": "Bob",
                "message": {"type": "image", "image": {"id": "9", "mime_type": "image/jpeg"}},
            },
        ]
    )
    [entry] = payload["entry"]
    [change] = entry["changes"]
    value = change["value"]
    assert [c["wa_id"] for c in value["contacts"]] == ["111", "222"]
    messages = value["messages"]
    assert [m["from"] for m in messages] == ["111", "222", "111", "222"]
    assert [m.get("text", {}).get("body") for m in messages] == ["one", "two", "three", None]
    assert messages[3]["type"] == "image"
    assert len({m["id"] for m in messages}) == 4


def test_media_webhook_uses_registered_media(meta: MetaSimulator) -> None:
    meta.add_media("77", b"pdf", "application/pdf")
    payload = meta.build_media_webhook(
        from_wa_id="1", name="A", media_id="77", kind="document", filename="a.pdf"
    )
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "document"
    assert message["document"] == {
        "mime_type": "application/pdf",
        "sha256": hashlib.sha256(b"pdf").hexdigest(),
        "id": "77",
        "filename": "a.pdf",
    }


def test_status_webhook_with_errors(meta: MetaSimulator) -> None:
    errors = [{"code": 131026, "title": "Message undeliverable"}]
    payload = meta.build_status_webhook(
        wamid="wamid.A", status="failed", recipient_id="49", timestamp=5, errors=errors
    )
    [status] = payload["entry"][0]["changes"][0]["value"]["statuses"]
    assert status == {
        "id": "wamid.A",
        "status": "failed",
        "timestamp": "5",
        "recipient_id": "49",
        "errors": errors,
    }


def test_account_update_webhook_has_the_shape_of_a_real_one(
    meta: MetaSimulator, shared_dir: Path
) -> None:
    samples = json.loads((shared_dir / "meta/samples/pywa/account_update.json").read_text())
    payload = meta.build_account_update_webhook(
        "ACCOUNT_VIOLATION", violation_info={"violation_type": "ADULT"}, timestamp=1743451903
    )
    assert _shape(payload) == _shape(samples["account_violation"])
    assert payload["entry"][0]["id"] == meta.waba_id
    assert payload["entry"][0]["changes"][0]["value"] == {
        "event": "ACCOUNT_VIOLATION",
        "violation_info": {"violation_type": "ADULT"},
    }


def test_phone_number_quality_webhook_names_the_number_and_its_limits(
    meta: MetaSimulator,
) -> None:
    meta.add_phone_number("999", "15550009999")
    payload = meta.build_phone_number_quality_webhook(
        "DOWNGRADE", current_limit="TIER_250", old_limit="TIER_1K", phone_number_id="999"
    )
    [entry] = payload["entry"]
    assert entry["id"] == meta.waba_id and isinstance(entry["time"], int)
    assert entry["changes"] == [
        {
            "field": "phone_number_quality_update",
            "value": {
                "display_phone_number": "15550009999",
                "event": "DOWNGRADE",
                "current_limit": "TIER_250",
                "old_limit": "TIER_1K",
            },
        }
    ]
    flagged = meta.build_phone_number_quality_webhook("FLAGGED")
    value = flagged["entry"][0]["changes"][0]["value"]
    assert value == {"display_phone_number": meta.display_phone_number, "event": "FLAGGED"}


def test_post_webhook_needs_a_url() -> None:
    sim = MetaSimulator(access_token="t", app_secret="s")
    with pytest.raises(RuntimeError, match="webhook_url"):
        sim.post_webhook({})
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.url


# -- control API and reset -----------------------------------------------------------------


def test_control_api(http: httpx.Client, meta: MetaSimulator, receiver: Receiver) -> None:
    meta.auto_statuses = ()
    _send(http, meta, TEXT)
    calls = http.get(f"{meta.url}/_sim/calls").json()
    assert [c["path"] for c in calls] == [f"/v23.0/{meta.phone_number_id}/messages"]
    answer = http.post(
        f"{meta.url}/_sim/inbound/text",
        json={"from_wa_id": "4915112345678", "name": "Ada", "text": "hi"},
    ).json()
    assert answer["status"] == 200
    [request] = receiver.requests()
    assert answer["wamid"] in request.body.decode()


def test_reset_forgets_recordings(http: httpx.Client, meta: MetaSimulator) -> None:
    meta.auto_statuses = ()
    _send(http, meta, TEXT)
    meta.fail_next(1, "x")
    meta.reset()
    assert meta.calls() == [] and meta.sent_messages() == [] and meta.webhook_deliveries() == []
    assert _send(http, meta, TEXT).status_code == 200


def test_unknown_paths_answer_code_100(http: httpx.Client, meta: MetaSimulator) -> None:
    _assert_envelope(http.post(f"{meta.url}/v23.0/x/y/z", headers=AUTH), 400, 100)
    me = http.get(f"{meta.url}/v23.0/me", headers=AUTH).json()
    assert me["id"]
    number = http.get(f"{meta.url}/v23.0/{meta.phone_number_id}", headers=AUTH).json()
    assert number["display_phone_number"] == meta.display_phone_number
