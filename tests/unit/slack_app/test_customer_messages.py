"""Every inbound type reads sensibly in the thread, and nothing a customer sends is active."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.domain import InboundMessage
from bridge.ports import CustomerMessageView
from slack_app.messages import customer_message_text
from whatsapp.webhooks import WebhookParser

PARSER = WebhookParser()


def _view(sample: dict[str, Any]) -> CustomerMessageView:
    [event] = PARSER.parse(json.dumps(sample).encode())
    assert isinstance(event, InboundMessage)
    content = dict(event.content)
    if event.text is not None:
        content["text"] = event.text
    return CustomerMessageView(
        message_type=event.message_type, text=event.text, content=content, sent_at=event.timestamp
    )


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        ("message/text", "Body Text"),
        ("message/image", ":frame_with_picture: Photo"),
        ("message/video", ":film_frames: Video"),
        ("message/document", ":page_facing_up: Document *filename.pdf*: caption"),
        ("message/audio", ":sound: Audio"),
        ("message/voice", ":studio_microphone: Voice message"),
        ("message/static_sticker", ":label: Sticker"),
        (
            "message/current_location",
            "<https://www.google.com/maps/search/?api=1&query=12.25089%2C+43.90539|Open map>",
        ),
        ("message/chosen_location", ":round_pushpin: Location:"),
        ("message/contacts", ":bust_in_silhouette: Contact card:\n*Chandler Bing*"),
        ("message/order", ":shopping_trolley: Sent an order of"),
        ("message/unsupported", "sent an *unsupported* message that cannot be shown here"),
        ("message/forwarded", ":arrow_right: _Forwarded_"),
        ("message/forwarded_many_times", ":fast_forward: _Forwarded many times_"),
        ("message/referral", ":mega: _Came from the ad “AD_TITLE”_"),
        ("callback_button/button", ":radio_button: Chose “title”"),
        ("callback_button/quick_reply_without_context", ":radio_button: Tapped “title”"),
        ("callback_selection/callback", ":radio_button: Chose"),
        ("system/phone_number_change", ":information_source:"),
        ("flow_completion/completion", ":clipboard: Sent a form\n• comment text: Comment Text"),
    ],
)
def test_each_inbound_type_reads_sensibly(
    pywa_samples: dict[str, dict[str, Any]], sample: str, words: str
) -> None:
    assert words in customer_message_text(_view(pywa_samples[sample]))


def test_every_sample_message_renders_and_nothing_is_active(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    rendered = 0
    for name, sample in pywa_samples.items():
        for event in PARSER.parse(json.dumps(sample).encode()):
            if not isinstance(event, InboundMessage):
                continue
            content = {**event.content, "text": event.text}
            view = CustomerMessageView(
                message_type=event.message_type, text=event.text, content=content
            )
            text = customer_message_text(view)
            assert text.strip(), name
            # Only links the bridge makes itself (the map, an ad's https link) are active.
            for start in range(len(text)):
                if text.startswith("<", start):
                    assert text.startswith(("<https://www.google.com/maps/", "<https://"), start), (
                        name
                    )
            rendered += 1
    assert rendered > 30


def test_a_customer_cannot_mention_or_broadcast() -> None:
    view = CustomerMessageView(
        message_type="contacts",
        text=None,
        content={"contacts": [{"name": {"formatted_name": "<!channel> <@U1>"}}]},
    )
    text = customer_message_text(view)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_a_completed_form_shows_its_answers_but_not_its_token(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    text = customer_message_text(_view(pywa_samples["flow_completion/completion"]))
    assert "• delivery rating: 4" in text
    assert "flow_token" not in text and "AQAAAAACS5Fpg" not in text
