"""Templates as the Graph API lists them, and the components that send them."""

from __future__ import annotations

from typing import Any

from bridge.domain import Part, Placeholder
from whatsapp.templates import parse_template, send_components

ORDER_UPDATE: dict[str, Any] = {
    "name": "order_update",
    "language": "en_US",
    "status": "APPROVED",
    "category": "UTILITY",
    "parameter_format": "POSITIONAL",
    "id": "1234",
    "quality_score": {"score": "GREEN", "date": 1700000000},
    "sub_category": "ORDER_DETAILS",  # an unknown field, ignored
    "components": [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Order {{1}}",
            "example": {"header_text": ["#42"]},
        },
        {
            "type": "BODY",
            "text": "Hi {{1}}, order {{2}} ships {{3}}. Thanks, {{1}}!",
            "example": {"body_text": [["Ada", "#42", "today"]]},
        },
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Thanks"},
                {
                    "type": "URL",
                    "text": "Track",
                    "url": "https://shop.example/track/{{1}}",
                    "example": ["https://shop.example/track/ABC"],
                },
            ],
        },
    ],
}

PROMO: dict[str, Any] = {
    "name": "promo",
    "language": "de",
    "status": "PAUSED",
    "category": "MARKETING",
    "parameter_format": "NAMED",
    "components": [
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x/h.jpg"]}},
        {
            "type": "BODY",
            "text": "Hallo {{first_name}}, {{discount}} Rabatt!",
            "example": {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "Maria"},
                    {"param_name": "discount", "example": "20%"},
                ]
            },
        },
    ],
}


def test_everything_an_agent_fills_in_is_a_placeholder_with_its_example() -> None:
    template = parse_template(ORDER_UPDATE)
    assert (template.name, template.language, template.category) == (
        "order_update",
        "en_US",
        "UTILITY",
    )
    assert (template.status, template.quality, template.usable) == ("APPROVED", "GREEN", True)
    assert template.parameter_format == "POSITIONAL" and template.template_id == "1234"
    assert template.header_kind == "TEXT" and template.footer_text == "Reply STOP to opt out"
    assert template.buttons == ("Thanks", "Track")
    assert template.placeholders == (
        Placeholder(part=Part.HEADER, name="1", example="#42"),
        Placeholder(part=Part.BODY, name="1", example="Ada"),
        Placeholder(part=Part.BODY, name="2", example="#42"),
        Placeholder(part=Part.BODY, name="3", example="today"),
        Placeholder(part=Part.BUTTON, name="1", example="https://shop.example/track/ABC", button=1),
    )


def test_named_parameters_and_a_media_header() -> None:
    template = parse_template(PROMO)
    assert template.parameter_format == "NAMED" and not template.usable
    assert template.needs_media
    assert [(p.key, p.example) for p in template.placeholders] == [
        ("header.media", "https://x/h.jpg"),
        ("body.first_name", "Maria"),
        ("body.discount", "20%"),
    ]


def test_parse_tolerates_missing_and_odd_fields() -> None:
    template = parse_template({"name": "x", "components": "nope", "status": 3})
    assert (template.name, template.status, template.body_text) == ("x", "", "")
    assert template.placeholders == () and not template.usable


def test_positional_values_become_header_body_and_button_components() -> None:
    template = parse_template(ORDER_UPDATE)
    values = template.values_from(["#42", "Ada", "#42", "today", "ABC"])
    assert send_components(template, values) == [
        {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ada"},
                {"type": "text", "text": "#42"},
                {"type": "text", "text": "today"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": "ABC"}],
        },
    ]


def test_named_values_carry_their_names_and_media_its_link() -> None:
    template = parse_template(PROMO)
    values = {"header.media": "https://cdn/x.jpg", "body.first_name": "Ada", "body.discount": "5%"}
    assert send_components(template, values) == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://cdn/x.jpg"}}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ada", "parameter_name": "first_name"},
                {"type": "text", "text": "5%", "parameter_name": "discount"},
            ],
        },
    ]
