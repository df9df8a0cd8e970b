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
