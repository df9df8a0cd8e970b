"""The payload builders: shapes, limits and the errors a caller gets for bad input."""

from __future__ import annotations

import pytest

from whatsapp.outbound import (
    MAX_TEXT,
    audio_payload,
    document_payload,
    image_payload,
    location_payload,
    media_payload,
    normalize_recipient,
    reaction_payload,
    read_receipt_payload,
    sticker_payload,
    template_params_components,
    template_payload,
    text_payload,
    video_payload,
)

BASE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915100000000"}


def test_text_payload() -> None:
    assert text_payload("4915100000000", "Hello") == {
        **BASE,
        "type": "text",
        "text": {"body": "Hello"},
    }


def test_text_payload_with_preview_and_reply() -> None:
    payload = text_payload("4915100000000", "see https://x.test", preview_url=True, reply_to="w1")
    assert payload["text"] == {"body": "see https://x.test", "preview_url": True}
    assert payload["context"] == {"message_id": "w1"}


def test_text_at_the_limit_is_fine_and_one_more_raises() -> None:
    assert text_payload("1", "x" * MAX_TEXT)["text"]["body"] == "x" * MAX_TEXT
    with pytest.raises(ValueError, match="4097 characters; WhatsApp allows 4096"):
        text_payload("1", "x" * (MAX_TEXT + 1))


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_raises(text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        text_payload("1", text)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("4915100000000", "4915100000000"),
        ("+4915100000000", "+4915100000000"),
        (" +49 151 000-000 (00) ", "+4915100000000"),
        ("US.13491208655302741918", "US.13491208655302741918"),
    ],
)
def test_recipients_keep_their_digits(given: str, sent: str) -> None:
    assert normalize_recipient(given) == sent


@pytest.mark.parametrize("bad", ["", "  ", "+"])
def test_an_empty_recipient_raises(bad: str) -> None:
    with pytest.raises(ValueError, match="recipient"):
        text_payload(bad, "hi")


def test_template_payload() -> None:
    components = template_params_components(["Ada", "#42"])
    assert template_payload("4915100000000", "order_update", "en_US", components) == {
        **BASE,
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ada"},
                        {"type": "text", "text": "#42"},
                    ],
                }
            ],
        },
    }


def test_a_template_without_components_has_none() -> None:
    assert "components" not in template_payload("1", "hello_world", "en_US")["template"]
    assert template_params_components([]) == []


def test_template_params_reject_empty_values_and_bare_strings() -> None:
    with pytest.raises(ValueError, match=r"\{\{2\}\} is empty"):
        template_params_components(["a", " "])
    with pytest.raises(TypeError):
        template_params_components("abc")


def test_read_receipt_payload() -> None:
    assert read_receipt_payload("wamid.1") == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.1",
    }


def test_reaction_payload_and_its_removal() -> None:
    assert reaction_payload("4915100000000", "wamid.1", "👍") == {
        **BASE,
        "type": "reaction",
        "reaction": {"message_id": "wamid.1", "emoji": "👍"},
    }
    assert reaction_payload("1", "wamid.1", "")["reaction"]["emoji"] == ""


def test_media_payloads_by_id_or_link() -> None:
    assert image_payload("4915100000000", media_id="m1", caption="look") == {
        **BASE,
        "type": "image",
        "image": {"id": "m1", "caption": "look"},
    }
    assert video_payload("1", link="https://x.test/v.mp4")["video"] == {
        "link": "https://x.test/v.mp4"
    }
    assert audio_payload("1", media_id="a1")["audio"] == {"id": "a1"}
    assert sticker_payload("1", media_id="s1", reply_to="w1")["context"] == {"message_id": "w1"}
    document = document_payload("1", media_id="d1", filename="invoice.pdf", caption="Your bill")
    assert document["document"] == {"id": "d1", "caption": "Your bill", "filename": "invoice.pdf"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of media_id or link"),
        ({"media_id": "m", "link": "https://x.test"}, "exactly one of media_id or link"),
        ({"media_id": ""}, "exactly one of media_id or link"),
        ({"media_id": "m", "caption": "x" * 1025}, "1025 characters; WhatsApp allows 1024"),
        ({"media_id": "m", "filename": "a.jpg"}, "only documents take a filename"),
    ],
)
def test_bad_media_raises(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        media_payload("image", "1", **kwargs)


@pytest.mark.parametrize("kind", ["audio", "sticker"])
def test_audio_and_stickers_take_no_caption(kind: str) -> None:
    with pytest.raises(ValueError, match="cannot have a caption"):
        media_payload(kind, "1", media_id="m", caption="hi")


def test_an_unknown_media_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown media kind"):
        media_payload("hologram", "1", media_id="m")


def test_location_payload() -> None:
    payload = location_payload("1", latitude=52.52, longitude=13.405, name="Office")
    assert payload["location"] == {"latitude": 52.52, "longitude": 13.405, "name": "Office"}
    with pytest.raises(ValueError, match="out of range"):
        location_payload("1", latitude=91, longitude=0)
