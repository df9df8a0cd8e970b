"""The template modal's Block Kit: what the agent sees, and what it sends back."""

from __future__ import annotations

from typing import Any

from bridge.domain import MessageTemplate, Part, Placeholder, ValueProblem
from bridge.ports import ConversationRecord
from bridge.usecases.templates import Choices
from slack_app.listeners.modals import modal_values
from slack_app.messages.templates import (
    ModalState,
    send_template_button,
    template_modal,
    template_options,
    value_errors,
)
from tests.fakes import T0

CONVERSATION = ConversationRecord(
    id=7,
    uid="u",
    phone_number_id="P",
    display_phone_number="15550001111",
    contact_id="4915112345678",
    contact_name="Ada",
    slack_channel="C1",
    slack_thread_ts="1.0",
    window_expires_at=None,
    last_message_at=None,
    total_messages=0,
    created_at=T0,
)
PROMO = MessageTemplate(
    name="promo",
    language="de",
    category="MARKETING",
    status="APPROVED",
    header_kind="IMAGE",
    body_text="Hallo {{first_name}}!",
    parameter_format="NAMED",
    placeholders=(
        Placeholder(part=Part.HEADER, name="media", example="https://x/h.jpg"),
        Placeholder(part=Part.BODY, name="first_name", example="Maria"),
    ),
)


def _blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b.get("block_id", b["type"]): b for b in view["blocks"]}


def test_a_new_modal_asks_for_a_template_and_knows_its_conversation() -> None:
    view = template_modal(conversation=CONVERSATION, now=T0, template=None, values={})
    blocks = _blocks(view)
    assert blocks["template"]["element"]["type"] == "external_select"
    assert blocks["template"]["dispatch_action"] is True
    assert "*Ada* (+4915112345678)" in blocks["context"]["elements"][0]["text"]
    assert ModalState.load(view["private_metadata"]).conversation_id == 7
    assert "section" not in blocks  # no preview before a template is chosen


def test_a_chosen_template_gets_one_input_per_placeholder_and_a_live_preview() -> None:
    values = {"body.first_name": "Ada <3"}
    view = template_modal(conversation=CONVERSATION, now=T0, template=PROMO, values=values)
    blocks = _blocks(view)
    media, name = blocks["var:header.media"], blocks["var:body.first_name"]
    assert media["label"]["text"] == "Header media link (https://…)"
    assert media["element"]["placeholder"]["text"] == "e.g. https://x/h.jpg"
    assert name["label"]["text"] == "Body {{first_name}}"
    assert name["element"]["initial_value"] == "Ada <3"
    assert name["element"]["dispatch_action_config"] == {
        "trigger_actions_on": ["on_character_entered"]
    }
    preview = blocks["section"]["text"]["text"]
    assert "Hallo Ada &lt;3!" in preview and "[image: …]" in preview
    assert ModalState.load(view["private_metadata"]).choice == "promo:de"
    assert blocks["template"]["element"]["initial_option"]["value"] == "promo:de"


def test_what_the_agent_typed_is_read_back_by_placeholder() -> None:
    view = {
        "state": {
            "values": {
                "template": {"wa_template_pick": {"selected_option": {"value": "promo:de"}}},
                "var:body.first_name": {"wa_template_value": {"value": "Ada"}},
                "var:header.media": {"wa_template_value": {"value": None}},
            }
        }
    }
    assert modal_values(view) == {"body.first_name": "Ada", "header.media": ""}


def test_options_put_suggestions_first() -> None:
    other = MessageTemplate(name="hello", language="en", category="UTILITY", status="APPROVED")
    answer = template_options(Choices(suggested=(PROMO,), others=(other,)))
    groups = answer["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Suggested", "All approved"]
    assert groups[0]["options"][0]["value"] == "promo:de"
    assert template_options(Choices(suggested=(), others=())) == {"options": []}


def test_inline_errors_name_the_input_and_what_is_wrong() -> None:
    errors = value_errors(
        {"header.media": ValueProblem.NOT_HTTPS, "body.first_name": ValueProblem.MISSING}
    )
    assert errors == {
        "var:header.media": "Give a link that starts with https://",
        "var:body.first_name": "Fill this in: the template needs it.",
    }


def test_the_button_carries_its_conversation() -> None:
    [button] = send_template_button(7)["elements"]
    assert (button["action_id"], button["value"]) == ("wa_open_template_modal", "7")
