"""``/wa`` on the real process: every subcommand, as an agent types it."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.harness import CHANNEL, Sandbox
from tests.e2e.steps import ADA, open_thread, sync_templates, thread_texts

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]


def _wa(box: Sandbox, text: str) -> dict[str, Any]:
    """Run ``/wa text`` and return the bridge's (ephemeral) answer."""
    before = len(box.slack.responses())
    delivered = box.slack.slash_command("/wa", text)
    assert delivered.status == 200
    assert box.slack.wait_for(lambda: len(box.slack.responses()) > before)
    answer = box.slack.responses()[before]
    assert answer.get("response_type") == "ephemeral"
    return answer


def _sent_templates(box: Sandbox) -> list[dict[str, Any]]:
    return [m["template"] for m in box.meta.sent_messages() if m.get("type") == "template"]


def test_help_names_every_subcommand(sandbox: Sandbox) -> None:
    text = _wa(sandbox, "help")["text"]
    for command in ("/wa templates", "/wa template ", "/wa new", "/wa status"):
        assert command in text
    assert "not a command" in _wa(sandbox, "teleport")["text"]
    # As a phone's keyboard capitalises it.
    assert "`/wa templates" in _wa(sandbox, "Help")["text"]
    assert "not a command" not in _wa(sandbox, "Status")["text"]


def test_templates_lists_only_approved_ones_by_language(sandbox: Sandbox) -> None:
    sync_templates(sandbox)
    text = _wa(sandbox, "templates")["text"]
    assert "`hello_world`" in text and "`order_update`" in text
    assert "promo_paused" not in text  # Meta paused it: never offered
    assert "your order" in text  # each with its body
    assert "order_update" not in _wa(sandbox, "templates hello")["text"]
    assert "No approved template matches" in _wa(sandbox, "templates zebra")["text"]


def test_template_sends_to_the_contact_and_shows_in_the_thread(sandbox: Sandbox) -> None:
    sync_templates(sandbox)
    thread_ts = open_thread(sandbox)
    answer = _wa(sandbox, f"template +{ADA[0][:2]} {ADA[0][2:]} order_update en Ada | #1042")
    assert "Sending `order_update`" in answer["text"]
    assert sandbox.meta.wait_for(lambda: len(_sent_templates(sandbox)) == 1)
    [sent] = _sent_templates(sandbox)
    assert sent["name"] == "order_update" and sent["language"] == {"code": "en"}
    assert sent["components"][0]["parameters"] == [
        {"type": "text", "text": "Ada"},
        {"type": "text", "text": "#1042"},
    ]
    assert sandbox.slack.wait_for(
        lambda: any("your order #1042 has shipped" in t for t in thread_texts(sandbox, thread_ts))
    )
    assert len(sandbox.slack.top_level(CHANNEL)) == 1  # the contact's own thread


def test_new_opens_a_thread_for_a_contact_who_never_wrote(sandbox: Sandbox) -> None:
    sync_templates(sandbox)
    # As the help's example has it: `en` finds the template's only English version, en_US.
    answer = _wa(sandbox, "new +44 20 7946 0958 hello_world en")
    assert "Sending `hello_world`" in answer["text"]
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    parent = sandbox.slack.top_level(CHANNEL)[0]
    assert "+442079460958" in parent.text
    assert sandbox.slack.wait_for(
        lambda: any("hello_world" in t for t in thread_texts(sandbox, parent.ts))
    )
    assert sandbox.meta.wait_for(lambda: len(_sent_templates(sandbox)) == 1)
    assert _sent_templates(sandbox)[0]["language"] == {"code": "en_US"}


MISTAKES = [
    ("template +49 151 12345678 order_update Ada", "needs 2 value(s)"),
    # A language it lacks is named as such, not counted as a value.
    ("template +49 151 12345678 hello_world fr", "has no `fr` version; it exists in `en_US`"),
    ("template +49 151 12345678 order_update en_GB Ada | #1", "has no `en_GB` version"),
    ("template +49 151 12345678 promo_paused Ada", "not approved"),
    ("template +49 151 12345678 nonexistent", "No template named"),
    ("template 12 hello_world", "not a phone number"),
    ("template hello_world", "Usage:"),
]


def test_template_mistakes_get_an_exact_answer_and_send_nothing(sandbox: Sandbox) -> None:
    sync_templates(sandbox)
    for text, words in MISTAKES:
        assert words in _wa(sandbox, text)["text"], text
    assert sandbox.wait_idle()
    assert _sent_templates(sandbox) == []
    assert sandbox.slack.top_level(CHANNEL) == []


def test_status_reports_numbers_queues_and_windows(sandbox: Sandbox) -> None:
    open_thread(sandbox)
    assert sandbox.wait_idle()
    text = _wa(sandbox, "status")["text"]
    assert "+15550001111" in text
    assert "0 webhook(s) to process" in text
    assert "1 open" in text
    assert "Last webhook" in text and "none received yet" not in text
