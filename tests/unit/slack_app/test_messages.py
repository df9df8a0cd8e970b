"""Every word an agent reads: what a thread says, and what an agent reply is."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.domain import DeliveryProblem, Notice, NoticeKind
from bridge.ports import AgentMessageView, ContactView, CustomerMessageView
from slack_app.listeners.messages import agent_delete, agent_edit, is_agent_reply, posted_at
from slack_app.messages import (
    advice,
    agent_message_text,
    customer_message_text,
    notice_text,
    thread_parent_text,
)
from tests.fakes import T0


def _event(**overrides: object) -> dict[str, object]:
    event = {"type": "message", "user": "U1", "text": "hello", "ts": "2.0", "thread_ts": "1.0"}
    event.update(overrides)
    return event


def test_a_human_thread_reply_is_an_agent_reply() -> None:
    assert is_agent_reply(_event(), note_prefix="//")
    assert is_agent_reply(_event(subtype="thread_broadcast"), note_prefix="//")


def test_what_is_not_sent_to_the_customer() -> None:
    assert not is_agent_reply(_event(bot_id="B1"), note_prefix="//")
    assert not is_agent_reply(_event(text="// internal note"), note_prefix="//")
    assert not is_agent_reply(_event(text="  // indented note"), note_prefix="//")
    assert not is_agent_reply(_event(thread_ts=None), note_prefix="//")  # top-level post
    assert not is_agent_reply(_event(thread_ts="2.0"), note_prefix="//")  # a thread parent
    assert not is_agent_reply(_event(subtype="message_changed"), note_prefix="//")
    assert not is_agent_reply(_event(text="   "), note_prefix="//")
    assert not is_agent_reply(_event(user=None), note_prefix="//")


def test_a_slack_timestamp_is_exact_to_the_microsecond() -> None:
    moment = posted_at("1732700000.000100")
    assert moment.timestamp() == pytest.approx(1732700000.0001)
    assert moment.microsecond == 100 and moment.tzinfo is not None
    assert posted_at("1732700000.000099") < moment
    with pytest.raises(ValueError, match="not a Slack timestamp"):
        posted_at("yesterday")


def test_parent_names_the_contact_and_number() -> None:
    text = thread_parent_text(
        ContactView(contact_id="4915112345678", name="Ada <admin>", business_number="1555"),
        now=T0,
    )
    assert "Ada &lt;admin&gt;" in text and "+4915112345678" in text
    assert "No window yet" in text


@pytest.mark.parametrize(
    ("expires", "words"),
    [
        # When it closes, in each reader's own time zone, and nothing that goes stale while
        # the parent stands unchanged for hours (as "5 h left" would).
        (
            T0 + timedelta(hours=5, minutes=3),
            f"Window open until <!date^{int((T0 + timedelta(hours=5, minutes=3)).timestamp())}"
            "^{date_short_pretty} at {time}|Nov 27, 17:03 UTC>: replies go out",
        ),
        (T0 - timedelta(minutes=1), "Window closed: templates only"),
    ],
)
def test_the_parent_shows_the_window(expires: object, words: str) -> None:
    contact = ContactView(
        contact_id="4915112345678",
        name="Ada",
        business_number="1555",
        window_expires_at=expires,  # type: ignore[arg-type]
    )
    assert words in thread_parent_text(contact, now=T0)


def test_a_warning_says_when_the_window_closes_and_suggests_templates() -> None:
    notice = Notice(
        kind=NoticeKind.WINDOW_WARNING,
        window_expires_at=T0 + timedelta(hours=2),
        suggestions=("order_update:en", "hello_world:en_US"),
    )
    text = notice_text(notice, now=T0)
    assert "closes in 2 h (14:00 UTC)" in text
    assert "Suggested: `order_update` (en), `hello_world` (en_US)." in text
    late = notice_text(notice, now=T0 + timedelta(hours=2) - timedelta(seconds=36))
    assert "closes in less than a minute (14:00 UTC)" in late


def test_customer_text_is_escaped_and_unknown_types_are_named() -> None:
    plain = CustomerMessageView(message_type="text", text="<!channel> & hi")
    assert customer_message_text(plain) == "&lt;!channel&gt; &amp; hi"
    odd = CustomerMessageView(message_type="hologram", text=None, content={"x": "<@U1>"})
    shown = customer_message_text(odd)
    assert "hologram" in shown and "<@U1>" not in shown


def test_window_closed_notice_says_what_to_do() -> None:
    notice = Notice(kind=NoticeKind.WINDOW_CLOSED, window_expires_at=T0)
    text = notice_text(notice, now=T0 + timedelta(hours=3))
    assert "window closed 3 h ago" in text and "approved template" in text
    assert "Suggested" not in text  # none known: none named
    suggesting = Notice(
        kind=NoticeKind.WINDOW_CLOSED, window_expires_at=T0, suggestions=("order_update:en",)
    )
    assert notice_text(suggesting, now=T0).endswith(" Suggested: `order_update` (en).")


def test_a_voice_note_is_named_as_one() -> None:
    voice = CustomerMessageView(message_type="audio", text=None, content={"voice": True})
    assert customer_message_text(voice).startswith(":studio_microphone: Voice message")
    audio = CustomerMessageView(message_type="audio", text=None, content={"voice": False})
    assert customer_message_text(audio).startswith(":sound: Audio")


def test_an_edit_or_deletion_of_a_message_never_shown_says_so_and_keeps_the_words() -> None:
    edit = CustomerMessageView(
        message_type="edit",
        text="Actually my order is #5521",
        content={"context_wamid": "wamid.OLD1", "message": {"type": "text"}},
    )
    assert customer_message_text(edit) == (
        ":pencil2: _Edited a message not shown here_: Actually my order is #5521"
    )
    revoke = CustomerMessageView(
        message_type="revoke", text=None, content={"context_wamid": "wamid.OLD2"}
    )
    assert customer_message_text(revoke) == ":wastebasket: _Deleted a message not shown here_"


def test_a_reaction_refused_here_says_why_not_that_whatsapp_refused_it() -> None:
    custom = Notice(
        kind=NoticeKind.REACTION_NOT_SENT,
        error_details="custom Slack emoji cannot be shown on WhatsApp; use a standard one",
    )
    assert notice_text(custom, now=T0) == (
        ":x: Your reaction was not sent: custom Slack emoji cannot be shown on WhatsApp; "
        "use a standard one."
    )
    refused = Notice(
        kind=NoticeKind.REACTION_NOT_SENT,
        error_code=131052,
        problem=DeliveryProblem.INVALID_MESSAGE,
    )
    assert "did not reach the customer (error 131052)" in notice_text(refused, now=T0)


@pytest.mark.parametrize(
    ("problem", "code", "title", "words"),
    [
        (DeliveryProblem.THROTTLED, 130429, None, "WhatsApp asked us to slow down (error 130429)."),
        (
            DeliveryProblem.TEMPORARY,
            131000,
            "Something went wrong",
            "WhatsApp had a temporary problem (error 131000): Something went wrong.",
        ),
        (DeliveryProblem.FILE_NOT_FETCHED, None, None, "Slack has not handed your file over"),
    ],
)
def test_a_delayed_reply_says_what_holds_it_up(
    problem: DeliveryProblem, code: int | None, title: str | None, words: str
) -> None:
    notice = Notice(
        kind=NoticeKind.SEND_DELAYED, problem=problem, error_code=code, error_title=title
    )
    text = notice_text(notice, now=T0)
    assert words in text and "retried automatically" in text


@pytest.mark.parametrize(
    ("reason", "problem", "code", "title", "words"),
    [
        (
            "meta:100",
            DeliveryProblem.MEDIA_GONE,
            100,
            "Invalid parameter",
            "WhatsApp no longer has it",
        ),
        (
            "slack:invalid_arguments",
            None,
            None,
            None,
            "Slack refused the upload (`invalid_arguments`)",
        ),
        (
            "meta:media_failed",
            DeliveryProblem.MEDIA_FAILED,
            None,
            "The file's download link answered HTTP 404",
            "WhatsApp would not hand it over (The file's download link answered HTTP 404)",
        ),
    ],
)
def test_a_customer_file_not_brought_over_says_whose_doing_it_was(
    reason: str, problem: DeliveryProblem | None, code: int | None, title: str | None, words: str
) -> None:
    notice = Notice(
        kind=NoticeKind.FILE_NOT_RELAYED,
        problem=problem,
        error_details=reason,
        error_code=code,
        error_title=title,
        job_ref="job:7",
    )
    text = notice_text(notice, now=T0)
    assert words in text and "rephrase" not in text
    assert text.endswith("`wabridge deadletters replay job:7`.")


def test_failure_notice_quotes_code_title_and_advice() -> None:
    notice = Notice(
        kind=NoticeKind.DELIVERY_FAILED,
        error_code=131026,
        error_title="Undeliverable",
        problem=DeliveryProblem.UNDELIVERABLE,
    )
    text = notice_text(notice, now=T0)
    assert "131026" in text and "Undeliverable" in text
    assert "cannot receive WhatsApp messages" in text


def test_an_unknown_outcome_asks_the_agent_instead_of_claiming_failure() -> None:
    notice = Notice(kind=NoticeKind.DELIVERY_FAILED, problem=DeliveryProblem.UNKNOWN_OUTCOME)
    text = notice_text(notice, now=T0)
    assert "Maybe not sent" in text and "Check with the customer" in text


def test_a_missing_customer_message_says_how_to_bring_it_back() -> None:
    notice = Notice(
        kind=NoticeKind.CUSTOMER_MESSAGE_MISSING,
        error_details="slack:msg_too_long",
        job_ref="job:7",
    )
    text = notice_text(notice, now=T0)
    assert "could not be shown" in text and "wabridge deadletters replay job:7" in text


def test_a_split_reply_says_how_many_parts() -> None:
    text = notice_text(Notice(kind=NoticeKind.REPLY_SPLIT, parts=3), now=T0)
    assert "3 parts" in text and "4,096" in text


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_notice_kind_has_words(kind: NoticeKind) -> None:
    text = notice_text(Notice(kind=kind, parts=2), now=T0)
    assert text and not text.startswith(":information_source:")


@pytest.mark.parametrize("problem", list(DeliveryProblem))
def test_every_delivery_problem_has_advice(problem: DeliveryProblem) -> None:
    words = advice(problem)
    assert words.endswith(".")
    assert problem == DeliveryProblem.OTHER or "see the error details" not in words


def _changed(new: str, old: str, **message: object) -> dict[str, object]:
    current = {"user": "U1", "text": new, "ts": "2.0", "thread_ts": "1.0", **message}
    return {
        "subtype": "message_changed",
        "message": current,
        "previous_message": {**current, "text": old},
    }


def test_an_agent_editing_a_thread_reply_is_an_edit() -> None:
    assert agent_edit(_changed("new", "old"), note_prefix="//") is not None
    assert agent_edit(_changed("same", "same"), note_prefix="//") is None  # a link unfurled
    assert agent_edit(_changed("new", "old", bot_id="B1"), note_prefix="//") is None
    assert agent_edit(_changed("new", "old", thread_ts=None), note_prefix="//") is None
    assert agent_edit(_changed("now public", "// a note"), note_prefix="//") is None


def test_an_agent_deleting_a_thread_reply_is_a_delete() -> None:
    gone = {"user": "U1", "text": "x", "ts": "2.0", "thread_ts": "1.0"}
    assert agent_delete({"subtype": "message_deleted", "previous_message": gone}) == gone
    bot = {**gone, "bot_id": "B1"}
    assert agent_delete({"subtype": "message_deleted", "previous_message": bot}) is None
    assert agent_delete({"subtype": "message_changed", "previous_message": gone}) is None


def test_a_message_sent_through_the_api_says_so_and_what_it_is() -> None:
    def shown(message_type: str, text: str = "", **content: object) -> str:
        view = AgentMessageView(
            author=None,
            template=None,
            language=None,
            text=text,
            via_api=True,
            message_type=message_type,
            content=dict(content),
        )
        return agent_message_text(view)

    assert shown("text", "Hi <@U1> & bye") == (
        ":outbox_tray: Sent through the API: a message\n> Hi &lt;@U1&gt; &amp; bye"
    )
    image = shown("image", "Your parcel", url="https://example.com/p.jpg", caption="Your parcel")
    assert image.startswith(":outbox_tray: Sent through the API: an image\n")
    assert "link: https://example.com/p.jpg" in image and image.endswith("> Your parcel")
    assert "media id: 42" in shown("document", media_id="42", filename="invoice.pdf")
    assert "Shop (52.5, 13.4)" in shown("location", latitude=52.5, longitude=13.4, name="Shop")
    templated = agent_message_text(
        AgentMessageView(
            author=None, template="order_update", language="en", text="Hi", via_api=True
        )
    )
    assert "Sent through the API: template `order_update` (en)" in templated
    # An agent's template reads as before.
    agents = AgentMessageView(author="U7", template="order_update", language="en", text="Hi")
    assert agent_message_text(agents).startswith(":outbox_tray: <@U7> sent template")
