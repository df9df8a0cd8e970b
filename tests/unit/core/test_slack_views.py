from __future__ import annotations

from datetime import timedelta

from bridge.ports import ContactView, CustomerMessageView, Notice
from slack_app.listeners import is_agent_reply
from slack_app.views import customer_message_text, notice_text, thread_parent_text
from tests.fakes import T0


def _event(**overrides: object) -> dict[str, object]:
    event = {"type": "message", "user": "U1", "text": "hello", "ts": "2.0", "thread_ts": "1.0"}
    event.update(overrides)
    return event


def test_a_human_thread_reply_is_an_agent_reply() -> None:
    assert is_agent_reply(_event(), note_prefix="//")


def test_what_is_not_sent_to_the_customer() -> None:
    assert not is_agent_reply(_event(bot_id="B1"), note_prefix="//")
    assert not is_agent_reply(_event(text="// internal note"), note_prefix="//")
    assert not is_agent_reply(_event(text="  // indented note"), note_prefix="//")
    assert not is_agent_reply(_event(thread_ts=None), note_prefix="//")  # top-level post
    assert not is_agent_reply(_event(thread_ts="2.0"), note_prefix="//")  # a thread parent
    assert not is_agent_reply(_event(subtype="message_changed"), note_prefix="//")
    assert not is_agent_reply(_event(text="   "), note_prefix="//")


def test_parent_names_the_contact_and_number() -> None:
    text = thread_parent_text(
        ContactView(contact_id="4915112345678", name="Ada <admin>", business_number="1555")
    )
    assert "Ada &lt;admin&gt;" in text and "+4915112345678" in text


def test_customer_text_is_escaped_and_unknown_types_are_named() -> None:
    plain = CustomerMessageView(message_type="text", text="<!channel> & hi")
    assert customer_message_text(plain) == "&lt;!channel&gt; &amp; hi"
    odd = CustomerMessageView(message_type="hologram", text=None, content={"x": 1})
    assert "hologram" in customer_message_text(odd)


def test_window_closed_notice_says_what_to_do() -> None:
    notice = Notice(kind="window_closed", window_expires_at=T0)
    text = notice_text(notice, now=T0 + timedelta(hours=3), advice=lambda code: "")
    assert "window closed 3 h ago" in text and "approved template" in text


def test_failure_notice_quotes_code_title_and_advice() -> None:
    notice = Notice(kind="delivery_failed", error_code=131026, error_title="Undeliverable")
    text = notice_text(notice, now=T0, advice=lambda code: f"advice for {code}")
    assert "131026" in text and "Undeliverable" in text and "advice for 131026" in text
