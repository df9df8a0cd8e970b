"""Templates as the templates API lists them, and their previews."""

from __future__ import annotations

from typing import Any

from whatsapp.templates import Template, parse_template, placeholders, render_preview

ORDER_UPDATE: dict[str, Any] = {
    "name": "order_update",
    "language": "en_US",
    "status": "APPROVED",
    "category": "UTILITY",
    "parameter_format": "POSITIONAL",
    "id": "1234",
    "sub_category": "ORDER_DETAILS",  # an unknown field, ignored
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Your order"},
        {
            "type": "BODY",
            "text": "Hi {{1}}, order {{2}} ships {{3}}. Thanks, {{1}}!",
            "example": {"body_text": [["Ada", "#42", "today"]]},
        },
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Track"}]},
    ],
}


def test_parse_template() -> None:
    template = parse_template(ORDER_UPDATE)
    assert template.name == "order_update"
    assert (template.language, template.status, template.category) == (
        "en_US",
        "APPROVED",
        "UTILITY",
    )
    assert template.parameter_format == "POSITIONAL"
    assert template.body_text == "Hi {{1}}, order {{2}} ships {{3}}. Thanks, {{1}}!"
    assert template.param_count == 3
    assert len(template.components) == 4
    assert template.approved


def test_parse_template_tolerates_missing_and_odd_fields() -> None:
    template = parse_template({"name": "x", "components": "nope", "status": 3})
    assert template == Template(
        name="x",
        language="",
        status="",
        category="",
        parameter_format="POSITIONAL",
        components=(),
        body_text="",
        param_count=0,
    )
    assert not template.approved


def test_render_preview_positional() -> None:
    template = parse_template(ORDER_UPDATE)
    assert render_preview(template, ["Ada", "#42", "today"]) == (
        "Hi Ada, order #42 ships today. Thanks, Ada!"
    )
    assert render_preview(template, ["Ada"]) == "Hi Ada, order {{2}} ships {{3}}. Thanks, Ada!"


def test_render_preview_named() -> None:
    named = parse_template(
        {
            "name": "welcome",
            "language": "de",
            "status": "APPROVED",
            "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hallo {{first_name}}, Code {{ code }}."}],
        }
    )
    assert placeholders(named.body_text) == ["first_name", "code"]
    assert named.param_count == 2
    assert render_preview(named, {"first_name": "Ada", "code": "X1"}) == "Hallo Ada, Code X1."
    assert render_preview(named, ["Ada", "X1"]) == "Hallo Ada, Code X1."
