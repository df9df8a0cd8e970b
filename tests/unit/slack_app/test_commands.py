"""``/wa``: how a command is read, and what the agent is told."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.domain import MessageTemplate, Part, Placeholder, ValueProblem
from bridge.jobs import Lane
from bridge.ports import FailureCount, JobCounts, LanePause
from bridge.usecases.status import StatusReport
from bridge.usecases.templates import SendOutcome, SendResult
from slack_app.listeners.commands import TemplateCommand, parse_template_command
from slack_app.messages.commands import status_text, template_list, template_result
from tests.fakes import T0

ORDER = MessageTemplate(
    name="order_update",
    language="en",
    category="UTILITY",
    status="APPROVED",
    body_text="Hi {{1}}, order {{2}} shipped.",
    placeholders=(
        Placeholder(part=Part.BODY, name="1", example="Maria"),
        Placeholder(part=Part.BODY, name="2", example="#1042"),
    ),
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "+49 151 12345678 order_update en Ada | #42",
            TemplateCommand("+49 151 12345678", "order_update", "en Ada | #42"),
        ),
        ("4915112345678 hello_world", TemplateCommand("4915112345678", "hello_world", "")),
        (
            "+1 (555) 000-1111 x Two  spaces | b",
            TemplateCommand("+1 (555) 000-1111", "x", "Two  spaces | b"),
        ),
        ("order_update Ada", None),  # no phone
        ("+4915112345678", None),  # no template
        ("", None),
    ],
)
def test_the_phone_may_have_spaces_and_the_values_keep_theirs(
    text: str, parsed: TemplateCommand | None
) -> None:
    assert parse_template_command(text) == parsed


def test_a_wrong_number_of_values_names_each_with_its_example() -> None:
    result = SendResult(outcome=SendOutcome.WRONG_VALUES, template=ORDER, given=1)
    text = template_result(result, name="order_update", phone="4915112345678")
    assert "needs 2 value(s)" in text and "You gave 1" in text and "Nothing was sent" in text
    assert "{{1}} (e.g. Maria) | {{2}} (e.g. #1042)" in text


def test_an_empty_value_is_named() -> None:
    result = SendResult(
        outcome=SendOutcome.WRONG_VALUES,
        template=ORDER,
        problems={"body.2": ValueProblem.MISSING},
    )
    assert "{{2}} (e.g. #1042) is empty" in template_result(result, name="o", phone="1")


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        (SendOutcome.UNKNOWN_TEMPLATE, "No template named `x`"),
        (SendOutcome.NOT_USABLE, "not approved (en: paused)"),
        (SendOutcome.WHICH_LANGUAGE, "exists in `en`, `de`"),
        (SendOutcome.QUEUED, "Sending `x` to +4915112345678"),
    ],
)
def test_every_outcome_says_what_happened(outcome: SendOutcome, words: str) -> None:
    candidates = (
        (MessageTemplate(name="x", language="en", category="U", status="PAUSED"),)
        if outcome == SendOutcome.NOT_USABLE
        else (
            MessageTemplate(name="x", language="en", category="U", status="APPROVED"),
            MessageTemplate(name="x", language="de", category="U", status="APPROVED"),
        )
    )
    result = SendResult(outcome=outcome, candidates=candidates, template=ORDER)
    assert words in template_result(result, name="x", phone="4915112345678")


def test_the_list_groups_by_language_and_escapes_bodies() -> None:
    german = MessageTemplate(
        name="hallo", language="de", category="UTILITY", status="APPROVED", body_text="<b> & co"
    )
    text = template_list([german, ORDER], "")
    assert text.index("*de*") < text.index("*en*")
    assert "&lt;b&gt; &amp; co" in text and "`order_update`" in text


def test_status_says_where_everything_stands() -> None:
    report = StatusReport(
        now=T0,
        numbers=(("1000000001", "15550001111", "C0SUPPORT"),),
        inbox_pending=2,
        jobs=JobCounts(pending=5, due=1, running=2, waiting=2),
        failures=(FailureCount(kind="show_delivery", reason="slack:message_not_found", count=3),),
        retrying=(
            FailureCount(kind="post_customer_message", reason="slack:not_in_channel", count=2),
        ),
        paused=(
            LanePause(lane=Lane.SLACK, reason="slack:token_revoked", since=T0, probe_after=T0),
        ),
        last_webhook_at=T0 - timedelta(minutes=5),
        open_windows=7,
        closing_soon=2,
        refused_today=1,
    )
    text = status_text(report)
    for words in (
        "+15550001111",
        "2 webhook(s) to process",
        "1 job(s) due, 2 running, 2 waiting; retrying: 2× post_customer_message "
        "(slack:not_in_channel)",
        "3× show_delivery (slack:message_not_found)",
        "5 min ago",
        "7 open, 2 closing within the hour",
        "refused today* (window closed): 1",
        "Slack work is paused",
    ):
        assert words in text
