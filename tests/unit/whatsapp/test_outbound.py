"""The payload builders: shapes, limits and the errors a caller gets for bad input."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from whatsapp.outbound import (
    MAX_TEXT,
    ContentError,
    audio_payload,
    buttons_payload,
    contacts_payload,
    content_payload,
    cta_url_payload,
    document_payload,
    image_payload,
    list_payload,
    location_payload,
    media_payload,
    normalize_recipient,
    reaction_payload,
    read_receipt_payload,
    sticker_payload,
    template_components,
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


# --- new builders ---------------------------------------------------------------------------

ADA = {
    "name": {"formatted_name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace"},
    "birthday": "1815-12-10",
    "phones": [{"phone": "+44 20 7946 0000", "type": "work", "wa_id": "442079460000"}],
    "emails": [{"email": "ada@example.org", "type": "HOME"}],
    "org": {"company": "Analytical Engines", "title": "Analyst"},
    "urls": [{"url": "https://example.org/ada"}],
    "addresses": [{"street": "12 St James's Sq", "city": "London", "country_code": "gb"}],
}


def test_contacts_payload_keeps_meta_s_contact_form() -> None:
    assert contacts_payload("4915100000000", [ADA, {"name": {"formatted_name": "Bob"}}]) == {
        **BASE,
        "type": "contacts",
        "contacts": [
            {
                "name": {
                    "formatted_name": "Ada Lovelace",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                },
                "birthday": "1815-12-10",
                "phones": [{"phone": "+44 20 7946 0000", "type": "WORK", "wa_id": "442079460000"}],
                "emails": [{"email": "ada@example.org", "type": "HOME"}],
                "urls": [{"url": "https://example.org/ada"}],
                "org": {"company": "Analytical Engines", "title": "Analyst"},
                "addresses": [
                    {"street": "12 St James's Sq", "city": "London", "country_code": "gb"}
                ],
            },
            {"name": {"formatted_name": "Bob"}},
        ],
    }


def test_buttons_payload() -> None:
    payload = buttons_payload(
        "4915100000000",
        "Did that help?",
        [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
        header="Quick question",
        footer="Tap one",
        reply_to="wamid.1",
    )
    assert payload == {
        **BASE,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Quick question"},
            "body": {"text": "Did that help?"},
            "footer": {"text": "Tap one"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        },
        "context": {"message_id": "wamid.1"},
    }


def test_buttons_payload_with_a_media_header() -> None:
    header = {"type": "image", "url": "https://x.test/a.png"}
    interactive = buttons_payload("1", "b", [{"id": "a", "title": "A"}], header=header)[
        "interactive"
    ]
    assert interactive["header"] == {"type": "image", "image": {"link": "https://x.test/a.png"}}
    assert "footer" not in interactive


def test_list_payload() -> None:
    sections = [
        {"title": "Shoes", "rows": [{"id": "s1", "title": "Boots", "description": "Warm"}]},
        {"title": "Hats", "rows": [{"id": "h1", "title": "Cap"}]},
    ]
    assert list_payload("1", "Pick one", "Catalogue", sections)["interactive"] == {
        "type": "list",
        "body": {"text": "Pick one"},
        "action": {"button": "Catalogue", "sections": sections},
    }


def test_cta_url_payload() -> None:
    payload = cta_url_payload(
        "1", "Track it here", display_text="Track", url="https://x.test/t?id=1", footer="f"
    )
    assert payload["interactive"] == {
        "type": "cta_url",
        "body": {"text": "Track it here"},
        "footer": {"text": "f"},
        "action": {
            "name": "cta_url",
            "parameters": {"display_text": "Track", "url": "https://x.test/t?id=1"},
        },
    }


def test_template_components_named_with_header_and_buttons() -> None:
    components = template_components(
        params={"first_name": "Ada", "order": "#42"},
        header={"type": "text", "text": "Ada", "parameter_name": "who"},
        buttons=[
            {"sub_type": "url", "index": 0, "text": "orders/42"},
            {"sub_type": "quick_reply", "index": 1, "payload": "STOP"},
            {"sub_type": "copy_code", "index": 2, "code": "SAVE10"},
        ],
    )
    assert components == [
        {
            "type": "header",
            "parameters": [{"type": "text", "parameter_name": "who", "text": "Ada"}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ada"},
                {"type": "text", "parameter_name": "order", "text": "#42"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "orders/42"}],
        },
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "1",
            "parameters": [{"type": "payload", "payload": "STOP"}],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "2",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
        },
    ]


@pytest.mark.parametrize("kind", ["image", "video", "document"])
def test_template_components_media_header(kind: str) -> None:
    assert template_components(header={"type": kind, "media_id": "m1"}, params=["x"]) == [
        {"type": "header", "parameters": [{"type": kind, kind: {"id": "m1"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "x"}]},
    ]


def test_template_payload_can_quote_and_checks_the_component_shape() -> None:
    payload = template_payload("1", "hello_world", "en", reply_to="wamid.1")
    assert payload["context"] == {"message_id": "wamid.1"}
    with pytest.raises(ContentError) as caught:
        template_payload("1", "t", "en", [{"type": "button", "parameters": []}])
    assert caught.value.field == "components[0].sub_type"


def test_content_error_names_the_field_and_is_a_value_error() -> None:
    error = ContentError("content.text", "text is empty")
    assert isinstance(error, ValueError)
    assert (error.field, error.message, str(error)) == (
        "content.text",
        "text is empty",
        "content.text: text is empty",
    )


# --- content_payload: every form ------------------------------------------------------------

LINK = "https://x.test/file"
FULL_TEMPLATE = [
    {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]},
    {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "P"}],
    },
]
#: (message_type, content, the body content_payload must put under payload[message_type])
CONTENT_CASES = [
    pytest.param("text", {"text": "Hi"}, {"body": "Hi"}, id="text"),
    pytest.param(
        "text",
        {"text": "https://x.test", "preview_url": True},
        {"body": "https://x.test", "preview_url": True},
        id="text with preview",
    ),
    pytest.param(
        "image", {"url": LINK, "caption": "look"}, {"link": LINK, "caption": "look"}, id="image"
    ),
    pytest.param("image", {"media_id": "m1"}, {"id": "m1"}, id="image by id"),
    pytest.param(
        "video", {"media_id": "m1", "caption": "v"}, {"id": "m1", "caption": "v"}, id="video"
    ),
    pytest.param("audio", {"url": LINK}, {"link": LINK}, id="audio"),
    pytest.param("sticker", {"media_id": "s1"}, {"id": "s1"}, id="sticker"),
    pytest.param(
        "document",
        {"url": LINK, "filename": "bill.pdf", "caption": "Your bill"},
        {"link": LINK, "caption": "Your bill", "filename": "bill.pdf"},
        id="document",
    ),
    pytest.param(
        "location",
        {"latitude": 52.52, "longitude": 13.405, "name": "HQ", "address": "Main 1"},
        {"latitude": 52.52, "longitude": 13.405, "name": "HQ", "address": "Main 1"},
        id="location",
    ),
    pytest.param(
        "location",
        {"latitude": -90, "longitude": 180},
        {"latitude": -90, "longitude": 180},
        id="location at the edges",
    ),
    pytest.param(
        "contacts",
        {"contacts": [{"name": {"formatted_name": "Ada"}, "phones": [{"phone": "+1 555"}]}]},
        [{"name": {"formatted_name": "Ada"}, "phones": [{"phone": "+1 555"}]}],
        id="contacts",
    ),
    pytest.param(
        "interactive",
        {
            "type": "button",
            "body": "Help?",
            "buttons": [{"id": "y", "title": "Yes"}],
            "header": "Hi",
            "footer": "f",
        },
        {
            "type": "button",
            "header": {"type": "text", "text": "Hi"},
            "body": {"text": "Help?"},
            "footer": {"text": "f"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
        },
        id="reply buttons",
    ),
    pytest.param(
        "interactive",
        {
            "type": "button",
            "body": "b",
            "buttons": [{"id": "y", "title": "Yes"}],
            "header": {"type": "document", "media_id": "d1"},
        },
        {
            "type": "button",
            "header": {"type": "document", "document": {"id": "d1"}},
            "body": {"text": "b"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
        },
        id="reply buttons with a document header",
    ),
    pytest.param(
        "interactive",
        {
            "type": "list",
            "body": "Pick",
            "button": "Menu",
            "sections": [{"rows": [{"id": "r1", "title": "One", "description": "first"}]}],
            "header": {"type": "text", "text": "Our menu"},
        },
        {
            "type": "list",
            "header": {"type": "text", "text": "Our menu"},
            "body": {"text": "Pick"},
            "action": {
                "button": "Menu",
                "sections": [{"rows": [{"id": "r1", "title": "One", "description": "first"}]}],
            },
        },
        id="list of one untitled section",
    ),
    pytest.param(
        "interactive",
        {
            "type": "list",
            "body": "Pick",
            "button": "Menu",
            "sections": [
                {"title": "A", "rows": [{"id": "a1", "title": "A one"}]},
                {"title": "B", "rows": [{"id": "b1", "title": "B one"}]},
            ],
        },
        {
            "type": "list",
            "body": {"text": "Pick"},
            "action": {
                "button": "Menu",
                "sections": [
                    {"title": "A", "rows": [{"id": "a1", "title": "A one"}]},
                    {"title": "B", "rows": [{"id": "b1", "title": "B one"}]},
                ],
            },
        },
        id="list of two sections",
    ),
    pytest.param(
        "interactive",
        {
            "type": "cta_url",
            "body": "Track",
            "display_text": "Open",
            "url": "http://x.test/t",
            "header": {"type": "video", "url": "https://x.test/v.mp4"},
            "footer": "f",
        },
        {
            "type": "cta_url",
            "header": {"type": "video", "video": {"link": "https://x.test/v.mp4"}},
            "body": {"text": "Track"},
            "footer": {"text": "f"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Open", "url": "http://x.test/t"},
            },
        },
        id="cta url",
    ),
    pytest.param(
        "reaction",
        {"message_id": "wamid.1", "emoji": "👍"},
        {"message_id": "wamid.1", "emoji": "👍"},
        id="reaction",
    ),
    pytest.param(
        "reaction",
        {"message_id": "wamid.1", "emoji": ""},
        {"message_id": "wamid.1", "emoji": ""},
        id="reaction removed",
    ),
    pytest.param(
        "template",
        {"name": "hello_world", "language": "en_US"},
        {"name": "hello_world", "language": {"code": "en_US"}},
        id="template alone",
    ),
    pytest.param(
        "template",
        {"name": "t", "language": "en", "components": FULL_TEMPLATE},
        {"name": "t", "language": {"code": "en"}, "components": FULL_TEMPLATE},
        id="template with graph components",
    ),
    pytest.param(
        "template",
        {"name": "t", "language": "de", "params": ["Ada", "42"]},
        {
            "name": "t",
            "language": {"code": "de"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "42"}],
                }
            ],
        },
        id="template with positional params",
    ),
    pytest.param(
        "template",
        {
            "name": "t",
            "language": "en",
            "params": {"first_name": "Ada"},
            "header": {"type": "text", "text": "Hi Ada", "parameter_name": "greeting"},
            "buttons": [{"sub_type": "copy_code", "index": 0, "code": "SAVE10"}],
        },
        {
            "name": "t",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "header",
                    "parameters": [
                        {"type": "text", "parameter_name": "greeting", "text": "Hi Ada"}
                    ],
                },
                {
                    "type": "body",
                    "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ada"}],
                },
                {
                    "type": "button",
                    "sub_type": "copy_code",
                    "index": "0",
                    "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
                },
            ],
        },
        id="template with named params, text header and copy code",
    ),
    pytest.param(
        "template",
        {
            "name": "t",
            "language": "en",
            "header": {"type": "image", "url": "https://x.test/a.jpg"},
            "buttons": [
                {"sub_type": "url", "index": 1, "text": "42"},
                {"sub_type": "quick_reply", "index": 0, "payload": "STOP"},
            ],
        },
        {
            "name": "t",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"link": "https://x.test/a.jpg"}}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "42"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "STOP"}],
                },
            ],
        },
        id="template with image header and buttons",
    ),
    pytest.param(
        "template",
        {"name": "t", "language": "en", "header": {"type": "document", "media_id": "d1"}},
        {
            "name": "t",
            "language": {"code": "en"},
            "components": [
                {"type": "header", "parameters": [{"type": "document", "document": {"id": "d1"}}]}
            ],
        },
        id="template with document header",
    ),
]


@pytest.mark.parametrize(("message_type", "content", "body"), CONTENT_CASES)
def test_content_payload_builds_each_form(
    message_type: str, content: dict[str, Any], body: Any
) -> None:
    assert content_payload("+49 151 0000 0000", message_type, content) == {
        **BASE,
        "to": "+4915100000000",
        "type": message_type,
        message_type: body,
    }


def test_content_payload_does_not_change_its_input() -> None:
    content = {"name": "t", "language": "en", "components": FULL_TEMPLATE}
    before = copy.deepcopy(content)
    payload = content_payload("1", "template", content)
    payload["template"]["components"][0]["parameters"].clear()
    assert content == before


@pytest.mark.parametrize(
    ("message_type", "content"),
    [(case.values[0], case.values[1]) for case in CONTENT_CASES if case.values[0] != "reaction"],
)
def test_reply_to_quotes_a_message(message_type: str, content: dict[str, Any]) -> None:
    payload = content_payload("1", message_type, content, reply_to="wamid.Q")
    assert payload["context"] == {"message_id": "wamid.Q"}
    assert "context" not in content_payload("1", message_type, content)
    assert "context" not in content_payload("1", message_type, content, reply_to="")


def test_a_reaction_cannot_quote() -> None:
    with pytest.raises(ContentError) as caught:
        content_payload("1", "reaction", {"message_id": "w", "emoji": "👍"}, reply_to="wamid.Q")
    assert caught.value.field == "reply_to"


@pytest.mark.parametrize("message_type", ["hologram", "TEXT", "", "button", None])
def test_an_unknown_message_type(message_type: Any) -> None:
    with pytest.raises(ContentError, match="unknown message type") as caught:
        content_payload("1", message_type, {"text": "hi"})
    assert caught.value.field == "message_type"


@pytest.mark.parametrize("content", [None, "hi", ["hi"]])
def test_content_must_be_an_object(content: Any) -> None:
    with pytest.raises(ContentError, match="must be an object") as caught:
        content_payload("1", "text", content)
    assert caught.value.field == "content"


# --- limits: at the limit passes, one more fails naming the field --------------------------


def _buttons(**over: Any) -> dict[str, Any]:
    return {"type": "button", "body": "b", "buttons": [{"id": "a", "title": "A"}], **over}


def _list(row: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    section = {"title": "S", "rows": [{"id": "r", "title": "R", **(row or {})}]}
    return {"type": "list", "body": "b", "button": "Open", "sections": [section], **over}


def _cta(**over: Any) -> dict[str, Any]:
    return {"type": "cta_url", "body": "b", "display_text": "Go", "url": LINK, **over}


def _template(**over: Any) -> dict[str, Any]:
    return {"name": "t", "language": "en", **over}


#: (message_type, content holding the value s, where the value lands, field, limit)
LENGTH_LIMITS = [
    pytest.param(
        "text", lambda s: {"text": s}, lambda p: p["text"]["body"], "content.text", 4096, id="text"
    ),
    *[
        pytest.param(
            kind,
            lambda s: {"media_id": "m", "caption": s},
            lambda p, kind=kind: p[kind]["caption"],
            "content.caption",
            1024,
            id=f"{kind} caption",
        )
        for kind in ("image", "video", "document")
    ],
    *[
        pytest.param(
            "interactive",
            lambda s, make=make: make(body=s),
            lambda p: p["interactive"]["body"]["text"],
            "content.body",
            1024,
            id=f"{name} body",
        )
        for name, make in (("buttons", _buttons), ("list", _list), ("cta", _cta))
    ],
    *[
        pytest.param(
            "interactive",
            lambda s, make=make: make(header=s),
            lambda p: p["interactive"]["header"]["text"],
            "content.header",
            60,
            id=f"{name} header",
        )
        for name, make in (("buttons", _buttons), ("list", _list), ("cta", _cta))
    ],
    pytest.param(
        "interactive",
        lambda s: _buttons(header={"type": "text", "text": s}),
        lambda p: p["interactive"]["header"]["text"],
        "content.header.text",
        60,
        id="header text object",
    ),
    *[
        pytest.param(
            "interactive",
            lambda s, make=make: make(footer=s),
            lambda p: p["interactive"]["footer"]["text"],
            "content.footer",
            60,
            id=f"{name} footer",
        )
        for name, make in (("buttons", _buttons), ("list", _list), ("cta", _cta))
    ],
    pytest.param(
        "interactive",
        lambda s: _buttons(buttons=[{"id": "a", "title": "A"}, {"id": s, "title": "B"}]),
        lambda p: p["interactive"]["action"]["buttons"][1]["reply"]["id"],
        "content.buttons[1].id",
        256,
        id="button id",
    ),
    pytest.param(
        "interactive",
        lambda s: _buttons(buttons=[{"id": "a", "title": "A"}, {"id": "b", "title": s}]),
        lambda p: p["interactive"]["action"]["buttons"][1]["reply"]["title"],
        "content.buttons[1].title",
        20,
        id="button title",
    ),
    pytest.param(
        "interactive",
        lambda s: _list(button=s),
        lambda p: p["interactive"]["action"]["button"],
        "content.button",
        20,
        id="list button",
    ),
    pytest.param(
        "interactive",
        lambda s: _list(sections=[{"title": s, "rows": [{"id": "r", "title": "R"}]}]),
        lambda p: p["interactive"]["action"]["sections"][0]["title"],
        "content.sections[0].title",
        24,
        id="section title",
    ),
    *[
        pytest.param(
            "interactive",
            lambda s, key=key: _list(row={key: s}),
            lambda p, key=key: p["interactive"]["action"]["sections"][0]["rows"][0][key],
            f"content.sections[0].rows[0].{key}",
            limit,
            id=f"row {key}",
        )
        for key, limit in (("id", 200), ("title", 24), ("description", 72))
    ],
    pytest.param(
        "interactive",
        lambda s: _cta(display_text=s),
        lambda p: p["interactive"]["action"]["parameters"]["display_text"],
        "content.display_text",
        20,
        id="cta display text",
    ),
    pytest.param(
        "template",
        lambda s: _template(params=["a", s]),
        lambda p: p["template"]["components"][0]["parameters"][1]["text"],
        "content.params[1]",
        32768,
        id="positional param",
    ),
    pytest.param(
        "template",
        lambda s: _template(params={"name": s}),
        lambda p: p["template"]["components"][0]["parameters"][0]["text"],
        "content.params.name",
        32768,
        id="named param",
    ),
    pytest.param(
        "template",
        lambda s: _template(header={"type": "text", "text": s}),
        lambda p: p["template"]["components"][0]["parameters"][0]["text"],
        "content.header.text",
        60,
        id="template header text",
    ),
    pytest.param(
        "template",
        lambda s: _template(buttons=[{"sub_type": "copy_code", "index": 0, "code": s}]),
        lambda p: p["template"]["components"][0]["parameters"][0]["coupon_code"],
        "content.buttons[0].code",
        15,
        id="coupon code",
    ),
]


@pytest.mark.parametrize(("message_type", "make", "where", "field", "limit"), LENGTH_LIMITS)
def test_length_limits(
    message_type: str,
    make: Callable[[str], dict[str, Any]],
    where: Callable[[dict[str, Any]], str],
    field: str,
    limit: int,
) -> None:
    longest = "x" * (limit - 1) + "é"
    assert where(content_payload("1", message_type, make(longest))) == longest
    with pytest.raises(ContentError) as caught:
        content_payload("1", message_type, make(longest + "x"))
    assert caught.value.field == field
    assert caught.value.message.endswith(f"is {limit + 1} characters; WhatsApp allows {limit}")


def _rows(count: int, prefix: str = "r") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "title": f"Row {i}"} for i in range(count)]


def _sections(rows_each: Sequence[int]) -> list[dict[str, Any]]:
    return [{"title": f"S{i}", "rows": _rows(count, f"s{i}r")} for i, count in enumerate(rows_each)]


def _cards(count: int) -> dict[str, Any]:
    return {"contacts": [{"name": {"formatted_name": f"C{i}"}} for i in range(count)]}


def _template_buttons(count: int) -> dict[str, Any]:
    return _template(
        buttons=[{"sub_type": "quick_reply", "index": i, "payload": f"p{i}"} for i in range(count)]
    )


#: (message_type, content with n entries, how many the payload holds, field, limit)
COUNT_LIMITS = [
    pytest.param(
        "interactive",
        lambda n: _buttons(buttons=[{"id": f"b{i}", "title": f"B{i}"} for i in range(n)]),
        lambda p: len(p["interactive"]["action"]["buttons"]),
        "content.buttons",
        3,
        id="reply buttons",
    ),
    pytest.param(
        "interactive",
        lambda n: _list(sections=_sections([1] * n)),
        lambda p: len(p["interactive"]["action"]["sections"]),
        "content.sections",
        10,
        id="sections",
    ),
    pytest.param(
        "interactive",
        lambda n: _list(sections=[{"rows": _rows(n)}]),
        lambda p: len(p["interactive"]["action"]["sections"][0]["rows"]),
        "content.sections[0].rows",
        10,
        id="rows of one section",
    ),
    pytest.param(
        "interactive",
        lambda n: _list(sections=_sections([5, n - 5])),
        lambda p: sum(len(s["rows"]) for s in p["interactive"]["action"]["sections"]),
        "content.sections",
        10,
        id="rows in all sections",
    ),
    pytest.param(
        "contacts", _cards, lambda p: len(p["contacts"]), "content.contacts", 5, id="contacts"
    ),
    pytest.param(
        "template",
        _template_buttons,
        lambda p: len(p["template"]["components"]),
        "content.buttons",
        10,
        id="template buttons",
    ),
]


@pytest.mark.parametrize(("message_type", "make", "count", "field", "limit"), COUNT_LIMITS)
def test_count_limits(
    message_type: str,
    make: Callable[[int], dict[str, Any]],
    count: Callable[[dict[str, Any]], int],
    field: str,
    limit: int,
) -> None:
    assert count(content_payload("1", message_type, make(limit))) == limit
    with pytest.raises(ContentError, match=f"{limit + 1}.*WhatsApp allows {limit}") as caught:
        content_payload("1", message_type, make(limit + 1))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("message_type", "content", "field"),
    [
        ("interactive", _buttons(buttons=[]), "content.buttons"),
        ("interactive", _list(sections=[]), "content.sections"),
        ("interactive", _list(sections=[{"rows": []}]), "content.sections[0].rows"),
        ("contacts", {"contacts": []}, "content.contacts"),
    ],
)
def test_lists_that_must_not_be_empty(
    message_type: str, content: dict[str, Any], field: str
) -> None:
    with pytest.raises(ContentError, match="empty") as caught:
        content_payload("1", message_type, content)
    assert caught.value.field == field


def test_template_button_index_is_0_to_9() -> None:
    nine = content_payload(
        "1", "template", _template(buttons=[{"sub_type": "url", "index": 9, "text": "x"}])
    )
    assert nine["template"]["components"][0]["index"] == "9"
    for bad in (10, -1):
        with pytest.raises(ContentError, match="out of range 0 to 9") as caught:
            content_payload(
                "1", "template", _template(buttons=[{"sub_type": "url", "index": bad, "text": "x"}])
            )
        assert caught.value.field == "content.buttons[0].index"


# --- unknown keys, wrong types, missing fields, broken rules ------------------------------


@pytest.mark.parametrize(
    ("message_type", "content", "field"),
    [
        ("text", {"text": "hi", "preview": True}, "content.preview"),
        ("image", {"media_id": "m", "captoin": "x"}, "content.captoin"),
        ("location", {"latitude": 1, "longitude": 2, "label": "x"}, "content.label"),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A"}}], "vcard": "x"},
            "content.vcard",
        ),
        ("contacts", {"contacts": [{"nmae": {"formatted_name": "A"}}]}, "content.contacts[0].nmae"),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A", "nick": "a"}}]},
            "content.contacts[0].name.nick",
        ),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A"}, "phones": [{"number": "1"}]}]},
            "content.contacts[0].phones[0].number",
        ),
        ("reaction", {"message_id": "w", "emoji": "x", "remove": True}, "content.remove"),
        ("interactive", _buttons(sections=[]), "content.sections"),
        (
            "interactive",
            _buttons(buttons=[{"id": "a", "title": "A", "label": "x"}]),
            "content.buttons[0].label",
        ),
        ("interactive", _list(row={"desc": "x"}), "content.sections[0].rows[0].desc"),
        (
            "interactive",
            _cta(header={"type": "image", "url": LINK, "caption": "x"}),
            "content.header.caption",
        ),
        (
            "interactive",
            _cta(header={"type": "text", "text": "t", "url": LINK}),
            "content.header.url",
        ),
        ("interactive", _cta(buttons=[]), "content.buttons"),
        ("template", _template(parameters=["a"]), "content.parameters"),
        (
            "template",
            _template(header={"type": "image", "url": LINK, "text": "x"}),
            "content.header.text",
        ),
        (
            "template",
            _template(buttons=[{"sub_type": "url", "index": 0, "payload": "x"}]),
            "content.buttons[0].payload",
        ),
    ],
)
def test_unknown_keys_are_refused(message_type: str, content: dict[str, Any], field: str) -> None:
    with pytest.raises(ContentError, match="unknown field") as caught:
        content_payload("1", message_type, content)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("message_type", "content", "field", "message"),
    [
        ("text", {}, "content.text", "text is missing"),
        ("text", {"text": 5}, "content.text", "must be a string, not a number"),
        ("text", {"text": "  "}, "content.text", "text is empty"),
        ("text", {"text": "hi", "preview_url": "yes"}, "content.preview_url", "true or false"),
        ("image", {}, "content.url", "exactly one of media_id or url"),
        ("image", {"url": LINK, "media_id": "m"}, "content.url", "exactly one of media_id or url"),
        ("image", {"url": "ftp://x.test/a.png"}, "content.url", "http:// or https://"),
        ("image", {"media_id": 7}, "content.media_id", "must be a string"),
        ("audio", {"media_id": "m", "caption": "x"}, "content.caption", "cannot have a caption"),
        ("sticker", {"media_id": "m", "caption": "x"}, "content.caption", "cannot have a caption"),
        ("video", {"media_id": "m", "filename": "a.mp4"}, "content.filename", "only documents"),
        ("location", {"latitude": "52", "longitude": 13}, "content.latitude", "must be a number"),
        ("location", {"latitude": True, "longitude": 13}, "content.latitude", "must be a number"),
        ("location", {"latitude": 52, "longitude": 180.5}, "content.longitude", "out of range"),
        ("location", {"latitude": -90.1, "longitude": 0}, "content.latitude", "out of range"),
        ("location", {"latitude": 52}, "content.longitude", "longitude must be a number"),
        ("contacts", {}, "content.contacts", "contacts is missing"),
        ("contacts", {"contacts": {"name": {"formatted_name": "A"}}}, "content.contacts", "list"),
        ("contacts", {"contacts": [{}]}, "content.contacts[0].name", "name is missing"),
        (
            "contacts",
            {"contacts": [{"name": {"first_name": "A"}}]},
            "content.contacts[0].name.formatted_name",
            "formatted name is missing",
        ),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A"}, "emails": [{"email": "nope"}]}]},
            "content.contacts[0].emails[0].email",
            "not an email address",
        ),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A"}, "urls": [{"url": "x.test"}]}]},
            "content.contacts[0].urls[0].url",
            "http:// or https://",
        ),
        (
            "contacts",
            {
                "contacts": [
                    {"name": {"formatted_name": "A"}, "phones": [{"phone": "1", "type": "CELL"}]}
                ]
            },
            "content.contacts[0].phones[0].type",
            "not one of HOME, WORK",
        ),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A"}, "birthday": "10/12/1815"}]},
            "content.contacts[0].birthday",
            "YYYY-MM-DD",
        ),
        (
            "contacts",
            {"contacts": [{"name": {"formatted_name": "A"}, "addresses": [{"type": "HOME"}]}]},
            "content.contacts[0].addresses[0]",
            "address is empty",
        ),
        ("reaction", {"emoji": "x"}, "content.message_id", "message id is missing"),
        ("reaction", {"message_id": "w"}, "content.emoji", "an empty one removes"),
        ("reaction", {"message_id": "w", "emoji": 1}, "content.emoji", "must be a string"),
        ("interactive", {"body": "b"}, "content.type", "interactive type is missing"),
        (
            "interactive",
            {"type": "carousel", "body": "b"},
            "content.type",
            "'carousel' is not one of",
        ),
        ("interactive", _buttons(body=None), "content.body", "body is missing"),
        ("interactive", _buttons(buttons={"id": "a"}), "content.buttons", "must be a list"),
        ("interactive", _buttons(buttons=["yes"]), "content.buttons[0]", "must be an object"),
        (
            "interactive",
            _buttons(buttons=[{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]),
            "content.buttons[1].id",
            "used twice",
        ),
        (
            "interactive",
            _buttons(buttons=[{"id": "a", "title": "A"}, {"id": "b", "title": "A"}]),
            "content.buttons[1].title",
            "used twice",
        ),
        (
            "interactive",
            _buttons(buttons=[{"id": " a", "title": "A"}]),
            "content.buttons[0].id",
            "spaces",
        ),
        ("interactive", _buttons(buttons=[{"id": "a"}]), "content.buttons[0].title", "missing"),
        (
            "interactive",
            _list(sections=[{"title": "A", "rows": _rows(1)}, {"rows": _rows(1, "x")}]),
            "content.sections[1].title",
            "several sections",
        ),
        (
            "interactive",
            _list(sections=[{"title": "A", "rows": _rows(1)}, {"title": "B", "rows": _rows(1)}]),
            "content.sections[1].rows[0].id",
            "used twice",
        ),
        ("interactive", _list(button=""), "content.button", "button label is empty"),
        (
            "interactive",
            _list(header={"type": "image", "url": LINK}),
            "content.header.type",
            "not one of text",
        ),
        ("interactive", _cta(url="javascript:alert(1)"), "content.url", "http:// or https://"),
        ("interactive", _cta(url=None), "content.url", "url is missing"),
        ("interactive", _cta(header={"type": "image"}), "content.header.url", "exactly one of"),
        ("interactive", _cta(header=7), "content.header", "must be an object"),
        ("template", {"language": "en"}, "content.name", "template name is missing"),
        (
            "template",
            {"name": "t", "language": ""},
            "content.language",
            "template language is empty",
        ),
        ("template", _template(params="Ada"), "content.params", "a list of values or an object"),
        ("template", _template(params=["Ada", 42]), "content.params[1]", "{{2}} must be a string"),
        ("template", _template(params=["Ada", ""]), "content.params[1]", "{{2}} is empty"),
        (
            "template",
            _template(params={"first name": "Ada"}),
            "content.params.first name",
            "letters, digits",
        ),
        (
            "template",
            _template(params={"name": None}),
            "content.params.name",
            "{{name}} is missing",
        ),
        (
            "template",
            _template(params=["a"], components=FULL_TEMPLATE),
            "content.components",
            "either components",
        ),
        (
            "template",
            _template(components={"type": "body"}),
            "content.components",
            "must be a list",
        ),
        (
            "template",
            _template(components=[{"type": "bdy"}]),
            "content.components[0].type",
            "'bdy'",
        ),
        (
            "template",
            _template(components=[{"type": "button", "sub_type": "url"}]),
            "content.components[0].index",
            "index",
        ),
        (
            "template",
            _template(components=[{"type": "body", "parameters": [{"text": "x"}]}]),
            "content.components[0].parameters[0].type",
            "parameter type is missing",
        ),
        (
            "template",
            _template(header={"type": "audio", "url": LINK}),
            "content.header.type",
            "not one of",
        ),
        ("template", _template(header={"type": "video"}), "content.header.url", "exactly one of"),
        (
            "template",
            _template(header={"type": "image", "url": "file:///etc/passwd"}),
            "content.header.url",
            "http:// or https://",
        ),
        (
            "template",
            _template(params={"a": "x"}, header={"type": "text", "text": "t"}),
            "content.header.parameter_name",
            "params are named",
        ),
        (
            "template",
            _template(params=["x"], header={"type": "text", "text": "t", "parameter_name": "h"}),
            "content.header.parameter_name",
            "positional",
        ),
        (
            "template",
            _template(buttons=[{"sub_type": "phone", "index": 0, "text": "x"}]),
            "content.buttons[0].sub_type",
            "not one of url, quick_reply, copy_code",
        ),
        (
            "template",
            _template(buttons=[{"sub_type": "url", "index": "0", "text": "x"}]),
            "content.buttons[0].index",
            "must be a number",
        ),
        (
            "template",
            _template(buttons=[{"sub_type": "quick_reply", "index": 0}]),
            "content.buttons[0].payload",
            "payload is missing",
        ),
        (
            "template",
            _template(
                buttons=[
                    {"sub_type": "quick_reply", "index": 0, "payload": "a"},
                    {"sub_type": "url", "index": 0, "text": "b"},
                ]
            ),
            "content.buttons[1].index",
            "used twice",
        ),
    ],
)
def test_bad_content_names_its_field(
    message_type: str, content: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ContentError) as caught:
        content_payload("1", message_type, content)
    assert caught.value.field == field
    assert message in caught.value.message


def test_an_empty_recipient_is_a_content_error_too() -> None:
    with pytest.raises(ContentError) as caught:
        content_payload(" ", "text", {"text": "hi"})
    assert caught.value.field == "to"
