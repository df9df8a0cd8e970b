from __future__ import annotations

import httpx
import pytest

from sandbox.forms import maybe_json, parse_multipart, parse_urlencoded


def test_multipart_keeps_binary_content_intact() -> None:
    data = b"\x00\r\n--not-a-boundary\r\n\xff" * 10
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"messaging_product": "whatsapp", "type": "image/png"},
        files={"file": ("pic.png", data, "image/png")},
    )
    body = request.read()
    parts = {p.name: p for p in parse_multipart(body, request.headers["content-type"])}
    assert parts["messaging_product"].text == "whatsapp"
    assert parts["type"].text == "image/png"
    assert parts["file"].data == data
    assert parts["file"].filename == "pic.png"
    assert parts["file"].content_type == "image/png"


def test_multipart_without_boundary_is_rejected() -> None:
    with pytest.raises(ValueError, match="boundary"):
        parse_multipart(b"", "multipart/form-data")


def test_urlencoded_and_json_fields() -> None:
    args = parse_urlencoded(b"channel=C1&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D&text=")
    assert args == {"channel": "C1", "blocks": '[{"type":"divider"}]', "text": ""}
    assert maybe_json(args["blocks"]) == [{"type": "divider"}]
    assert maybe_json("[not json") == "[not json"
    assert maybe_json("plain") == "plain"
    assert maybe_json([1]) == [1]
