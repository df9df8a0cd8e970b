"""Operator notices: every piece of account news says what happened and what to do."""

from __future__ import annotations

import pytest

from bridge.domain import AccountEventKind, OperatorNotice, Restriction
from slack_app.messages import operator_notice_text
from tests.fakes import T0

K = AccountEventKind
NUMBER = "15550001111"


@pytest.mark.parametrize(
    ("notice", "words"),
    [
        (
            OperatorNotice(kind=K.QUALITY_DOWN, number=NUMBER, quality="YELLOW"),
            ["+15550001111", "dropped to medium (yellow)", "Send fewer templates"],
        ),
        (
            OperatorNotice(kind=K.QUALITY_DOWN, number=NUMBER, quality="RED"),
            ["dropped to low (red)", "lowers the number's messaging limit"],
        ),
        (OperatorNotice(kind=K.QUALITY_DOWN, number=NUMBER), ["+15550001111 is low"]),
        (OperatorNotice(kind=K.QUALITY_UP, number=NUMBER), ["is back up", "Nothing to do"]),
        (
            OperatorNotice(kind=K.LIMIT_DOWN, number=NUMBER, limit="250", previous_limit="1K"),
            ["250 conversations a day (down from 1,000)", "expect them"],
        ),
        (
            OperatorNotice(kind=K.LIMIT_UP, number=NUMBER, limit="10K", previous_limit="1K"),
            ["10,000 conversations a day (up from 1,000)", "Nothing to do"],
        ),
        (
            OperatorNotice(kind=K.LIMIT_UP, number=NUMBER, limit="UNLIMITED"),
            ["unlimited conversations a day"],
        ),
        (
            OperatorNotice(kind=K.VIOLATION, waba_id="W1", violation="ADULT"),
            ["policy violation (adult)", "`W1`", "appeal"],
        ),
        (
            OperatorNotice(
                kind=K.RESTRICTED,
                waba_id="W1",
                restrictions=(Restriction.START_CONVERSATIONS, Restriction.ADD_PHONE_NUMBERS),
                until=T0,
            ),
            [
                "restricted business account `W1` until 27 Nov 2026, 12:00 UTC",
                "cannot start conversations",
                "or add phone numbers",
                "Replies inside the 24-hour window still go out",
            ],
        ),
        (
            OperatorNotice(kind=K.DISABLED, waba_id="W1", effective="April 17, 2025"),
            ["disabled business account `W1` on April 17, 2025", "Request a review"],
        ),
        (
            OperatorNotice(kind=K.DISABLE_SCHEDULED, effective="May 1, 2026"),
            ["will disable your business account on May 1, 2026", "before then"],
        ),
        (OperatorNotice(kind=K.REINSTATED, waba_id="W1"), ["reinstated", "nothing to do"]),
        (OperatorNotice(kind=K.DELETED, waba_id="W1"), ["`W1` was deleted", "tell an admin"]),
        (OperatorNotice(kind=K.OFFBOARDED), ["disconnected (offboarded)", "tell an admin"]),
        (OperatorNotice(kind=K.RECONNECTED), ["connected again", "nothing to do"]),
    ],
    ids=lambda value: value.kind.value if isinstance(value, OperatorNotice) else "",
)
def test_each_notice_names_what_happened_and_what_to_do(
    notice: OperatorNotice, words: list[str]
) -> None:
    text = operator_notice_text(notice)
    for expected in words:
        assert expected in text


def test_every_kind_worth_telling_has_words_of_its_own() -> None:
    generic = operator_notice_text(OperatorNotice(kind=K.OTHER))
    texts = {operator_notice_text(OperatorNotice(kind=kind)) for kind in K if kind != K.OTHER}
    assert generic not in texts
    assert len(texts) == len(K) - 1


def test_a_restriction_on_replies_does_not_promise_replies_go_out() -> None:
    notice = OperatorNotice(kind=K.RESTRICTED, restrictions=(Restriction.REPLY_TO_CUSTOMERS,))
    text = operator_notice_text(notice)
    assert "cannot reply to customers" in text and "still go out" not in text


def test_what_meta_wrote_is_escaped() -> None:
    text = operator_notice_text(
        OperatorNotice(kind=K.VIOLATION, waba_id="<!channel>", violation="<@U1>")
    )
    assert "<!channel>" not in text and "<@U1>" not in text
    assert "&lt;!channel&gt;" in text
