"""Templates in the core: what they need, and how they read once filled in."""

from __future__ import annotations

import pytest

from bridge.domain import MessageTemplate, Part, Placeholder

TEMPLATE = MessageTemplate(
    name="order_update",
    language="en",
    category="UTILITY",
    status="APPROVED",
    header_kind="TEXT",
    header_text="Order {{1}}",
    body_text="Hi {{1}}, order {{2}} ships soon.",
    footer_text="Reply STOP to opt out",
    buttons=("Track",),
    placeholders=(
        Placeholder(part=Part.HEADER, name="1"),
        Placeholder(part=Part.BODY, name="1"),
        Placeholder(part=Part.BODY, name="2"),
    ),
)


def test_values_in_order_fill_header_then_body() -> None:
    values = TEMPLATE.values_from(["#42", "Ada", "#42"])
    assert values == {"header.1": "#42", "body.1": "Ada", "body.2": "#42"}
    assert TEMPLATE.render(values) == (
        "*Order #42*\nHi Ada, order #42 ships soon.\n_Reply STOP to opt out_\n[Track]"
    )


def test_the_wrong_number_of_values_is_refused_with_the_number_needed() -> None:
    with pytest.raises(ValueError, match="needs 3 value"):
        TEMPLATE.values_from(["Ada"])


def test_a_missing_value_shows_as_its_placeholder_and_is_named() -> None:
    values = {"header.1": "#42", "body.1": "Ada"}
    assert "order {{2}} ships" in TEMPLATE.render(values)
    assert [p.key for p in TEMPLATE.missing(values)] == ["body.2"]
    assert [p.key for p in TEMPLATE.missing({**values, "body.2": "  "})] == ["body.2"]


@pytest.mark.parametrize(
    ("status", "usable"),
    [("APPROVED", True), ("PAUSED", False), ("DISABLED", False), ("PENDING", False)],
)
def test_only_approved_templates_can_be_sent(status: str, usable: bool) -> None:
    template = MessageTemplate(name="x", language="en", category="UTILITY", status=status)
    assert template.usable is usable


def test_new_wording_brings_its_placeholders_and_keeps_known_examples() -> None:
    with_examples = MessageTemplate(
        name="order_update",
        language="en",
        category="UTILITY",
        status="APPROVED",
        body_text="Hi {{1}}, order {{2}} ships soon.",
        buttons=("Track",),
        placeholders=(
            Placeholder(part=Part.BODY, name="1", example="Ada"),
            Placeholder(part=Part.BODY, name="2", example="#42"),
            Placeholder(part=Part.BUTTON, name="1", example="42", button=0),
        ),
    )
    changed = with_examples.reworded(body_text="Hello {{1}}, {{3}} is on its way.")
    assert changed.body_text == "Hello {{1}}, {{3}} is on its way."
    assert [(p.key, p.example) for p in changed.placeholders] == [
        ("body.1", "Ada"),
        ("body.3", None),
        ("button0.1", "42"),  # the webhook does not touch URL buttons
    ]
    assert changed.buttons == ("Track",) and changed.footer_text is None


def test_new_wording_of_header_footer_and_buttons() -> None:
    changed = TEMPLATE.reworded(
        header_text="Your order", footer_text="", buttons=("Call us", "Write to us")
    )
    assert changed.render(changed.values_from(["Ada", "#7"])) == (
        "*Your order*\nHi Ada, order #7 ships soon.\n[Call us] · [Write to us]"
    )
    assert TEMPLATE.reworded() == TEMPLATE  # nothing changed, nothing moves
