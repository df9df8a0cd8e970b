"""Typed jobs: one codec, every type round-trips, and what it cannot read is a clear error."""

from __future__ import annotations

import typing

import pytest

from bridge.domain import (
    AccountEventKind,
    DeliveryProblem,
    Notice,
    NoticeKind,
    OperatorNotice,
    Restriction,
)
from bridge.errors import JobDecodeError
from bridge.jobs import (
    JOB_TYPES,
    Job,
    Lane,
    MarkRead,
    PostAgentMessage,
    PostCustomerMessage,
    PostNotice,
    PostOperatorNotice,
    RelayMedia,
    SendReply,
    ShowCustomerChange,
    ShowDelivery,
    ShowWindow,
    decode,
    encode,
)
from tests.fakes import T0

EXAMPLES: list[Job] = [
    PostCustomerMessage(conversation_id=1, message_id=2),
    PostAgentMessage(conversation_id=1, message_id=2),
    ShowDelivery(conversation_id=1, message_id=2),
    ShowWindow(conversation_id=1),
    RelayMedia(conversation_id=1, message_id=2),
    ShowCustomerChange(conversation_id=1, message_id=2),
    PostNotice(
        conversation_id=1,
        notice=Notice(
            kind=NoticeKind.DELIVERY_FAILED,
            window_expires_at=T0,
            error_code=131026,
            error_title="Undeliverable",
            problem=DeliveryProblem.UNDELIVERABLE,
            reply_ts="1.2",
            job_ref="job:3",
        ),
    ),
    PostNotice(conversation_id=1, notice=Notice(kind=NoticeKind.REPLY_SPLIT, parts=2)),
    PostNotice(
        conversation_id=1,
        notice=Notice(kind=NoticeKind.WINDOW_WARNING, suggestions=("a:en", "b:de")),
    ),
    PostOperatorNotice(
        channel="C1",
        notice=OperatorNotice(
            kind=AccountEventKind.RESTRICTED,
            waba_id="W1",
            restrictions=(Restriction.START_CONVERSATIONS, Restriction.ADD_PHONE_NUMBERS),
            until=T0,
        ),
    ),
    PostOperatorNotice(
        channel="C1",
        notice=OperatorNotice(
            kind=AccountEventKind.LIMIT_DOWN, number="15550001111", limit="250", previous_limit="1K"
        ),
    ),
    SendReply(conversation_id=1, message_id=2),
    MarkRead(conversation_id=1, wamid="wamid.X"),
]


def test_the_examples_cover_every_job_type() -> None:
    assert {type(job) for job in EXAMPLES} == set(typing.get_args(Job)) == set(JOB_TYPES.values())


@pytest.mark.parametrize("job", EXAMPLES, ids=lambda job: type(job).__name__)
def test_every_job_round_trips_through_json(job: Job) -> None:
    import json

    stored = json.loads(json.dumps(encode(job)))
    assert decode(job.TYPE, stored) == job


def test_customer_messages_and_replies_block_their_lane_and_the_rest_do_not() -> None:
    blocking = {cls.TYPE for cls in JOB_TYPES.values() if cls.BLOCKING}
    assert blocking == {
        "post_customer_message",
        "show_customer_change",
        "post_agent_message",
        "send_reply",
    }
    assert {cls.TYPE: cls.LANE for cls in JOB_TYPES.values()} == {
        "post_customer_message": Lane.SLACK,
        "post_agent_message": Lane.SLACK,
        "show_delivery": Lane.SLACK,
        "show_window": Lane.SLACK,
        "relay_media": Lane.SLACK,
        "show_customer_change": Lane.SLACK,
        "post_notice": Lane.SLACK,
        "post_operator_notice": Lane.SLACK,
        "send_reply": Lane.WHATSAPP,
        "mark_read": Lane.WHATSAPP,
    }


def test_only_account_news_belongs_to_no_conversation() -> None:
    """A job of no conversation waits for no conversation's work and holds up none."""
    without = {type(job).TYPE for job in EXAMPLES if job.conversation_id is None}
    assert without == {"post_operator_notice"}
    assert not PostOperatorNotice.BLOCKING
    news = next(job for job in EXAMPLES if isinstance(job, PostOperatorNotice))
    assert "conversation_id" not in encode(news)  # not stored in its payload


@pytest.mark.parametrize(
    ("job_type", "payload", "words"),
    [
        ("teleport", {}, "unknown job type"),
        ("send_reply", {"conversation_id": 1}, "message_id"),
        ("send_reply", {"conversation_id": "1", "message_id": 2}, "expected int"),
        ("post_notice", {"conversation_id": 1, "notice": {"kind": "hologram"}}, "hologram"),
        ("post_notice", {"conversation_id": 1, "notice": "x"}, "needs an object"),
        ("post_operator_notice", {"notice": {"kind": "quality_down"}}, "channel"),
        ("post_operator_notice", {"channel": "C", "notice": {"kind": "tsunami"}}, "tsunami"),
    ],
)
def test_what_this_version_cannot_read_is_a_clear_error(
    job_type: str, payload: dict[str, object], words: str
) -> None:
    with pytest.raises(JobDecodeError, match=words):
        decode(job_type, payload)
