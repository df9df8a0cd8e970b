"""The next step under a failure notice, as Block Kit: which button, its action and value,
and the line that replaces it once used."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.domain import DeliveryProblem, NextStep, Notice, NoticeKind
from bridge.usecases.resends import ResendOutcome, ResendResult
from slack_app.ids import OPEN_TEMPLATE_MODAL, RETRY_SEND, SEND_AGAIN
from slack_app.messages import notice_actions, notice_text
from slack_app.messages.resends import after_resend, resend_line
from tests.fakes import T0


def _failed(step: NextStep | None, problem: DeliveryProblem, **extra: Any) -> Notice:
    return Notice(
        kind=NoticeKind.DELIVERY_FAILED,
        problem=problem,
        next_step=step,
        message_id=42,
        reply_ts="1.000002",
        **extra,
    )


def _button(notice: Notice, *, templates_here: bool = True) -> dict[str, Any] | None:
    actions = notice_actions(notice, conversation_id=7, templates_here=templates_here)
    if actions is None:
        return None
    assert actions["type"] == "actions"
    [button] = actions["elements"]
    assert button["type"] == "button"
    return dict(button)


def test_retry_carries_the_failed_message() -> None:
    button = _button(_failed(NextStep.RETRY, DeliveryProblem.TEMPORARY, error_code=131000))
    assert button is not None
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        RETRY_SEND,
        "42",
        "Retry",
    )
    assert "confirm" not in button


def test_send_again_says_it_may_arrive_twice_and_asks_first() -> None:
    notice = _failed(NextStep.SEND_AGAIN, DeliveryProblem.UNKNOWN_OUTCOME)
    button = _button(notice)
    assert button is not None
    assert (button["action_id"], button["value"]) == (SEND_AGAIN, "42")
    assert "twice" in button["text"]["text"]
    assert "twice" in button["confirm"]["text"]["text"]
    text = notice_text(notice, now=T0)
    assert "Maybe not sent" in text and "may deliver it twice" in text


def test_a_closed_window_offers_the_template_modal_of_the_conversation() -> None:
    notice = _failed(NextStep.SEND_TEMPLATE, DeliveryProblem.WINDOW_CLOSED, error_code=131047)
    button = _button(notice)
    assert button is not None
    assert (button["action_id"], button["value"]) == (OPEN_TEMPLATE_MODAL, "7")
    # Where templates cannot be sent from Slack, no button; the words still say what to do.
    assert _button(notice, templates_here=False) is None
    assert "approved template" in notice_text(notice, now=T0, templates_here=False)


@pytest.mark.parametrize(
    "notice",
    [
        _failed(None, DeliveryProblem.UNDELIVERABLE, error_code=131026),
        _failed(None, DeliveryProblem.EARLIER_PART_FAILED),
        Notice(kind=NoticeKind.DELIVERY_FAILED, next_step=NextStep.RETRY),  # no message named
        Notice(kind=NoticeKind.REPLY_SPLIT, parts=2),
    ],
)
def test_no_next_step_no_button(notice: Notice) -> None:
    assert _button(notice) is None


def test_the_window_notices_keep_their_template_button() -> None:
    for kind in (NoticeKind.WINDOW_CLOSED, NoticeKind.WINDOW_WARNING):
        button = _button(Notice(kind=kind))
        assert button is not None and button["action_id"] == OPEN_TEMPLATE_MODAL


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (ResendResult(outcome=ResendOutcome.QUEUED, by="U2"), "Sent again by <@U2>."),
        (ResendResult(outcome=ResendOutcome.ALREADY, by="U1"), "Already sent again by <@U1>."),
        (ResendResult(outcome=ResendOutcome.ALREADY), "Already sent again."),
        (ResendResult(outcome=ResendOutcome.WINDOW_CLOSED), "window is closed"),
        (ResendResult(outcome=ResendOutcome.NOTHING_TO_SEND), "Nothing to send again"),
    ],
)
def test_each_outcome_has_its_line(result: ResendResult, words: str) -> None:
    assert words in resend_line(result, user="U2")


def test_the_button_gives_way_to_the_line_and_the_rest_stays() -> None:
    notice = _failed(NextStep.RETRY, DeliveryProblem.TEMPORARY)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "Not delivered"}}
    actions = notice_actions(notice, conversation_id=7, templates_here=True)
    assert actions is not None
    blocks = after_resend([section, actions], "Not delivered", ":repeat: Sent again by <@U2>.")
    assert blocks == [
        section,
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": ":repeat: Sent again by <@U2>."}],
        },
    ]
    # A click that did not carry the blocks still gets the notice's words back.
    assert after_resend(None, "Not delivered", "line")[0] == section
