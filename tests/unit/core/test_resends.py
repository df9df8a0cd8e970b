"""A failed message sent again stands in for it, in its place among the reply's parts."""

from __future__ import annotations

from bridge.domain import Direction, MessageStatus, SenderType
from bridge.ports import MessageRecord
from bridge.usecases.records import current_parts, resend_key, resend_of
from tests.fakes import T0


def _message(id: int, status: MessageStatus, key: str | None = None) -> MessageRecord:
    return MessageRecord(
        id=id,
        conversation_id=1,
        direction=Direction.OUTBOUND,
        sender_type=SenderType.AGENT,
        slack_user="U1",
        message_type="text",
        content={"text": str(id)},
        status=status,
        wamid=None,
        slack_ts="1.000002",
        idempotency_key=key or f"slack:C:1.000002#{id}",
        created_at=T0,
        sent_at=None,
        delivered_at=None,
        read_at=None,
        failed_at=None,
        error_code=None,
        error_title=None,
        error_message=None,
        shown_stages=(),
    )


def test_a_resend_names_the_message_it_sends_again() -> None:
    assert resend_of(_message(9, MessageStatus.PENDING, resend_key(4))) == 4
    assert resend_of(_message(4, MessageStatus.FAILED)) is None
    assert resend_of(_message(5, MessageStatus.FAILED, "retry:x")) is None
    assert resend_of(_message(6, MessageStatus.FAILED, "api:retry:7")) is None


def test_resends_take_the_place_of_what_they_send_again() -> None:
    first, second = _message(1, MessageStatus.FAILED), _message(2, MessageStatus.FAILED)
    again = _message(3, MessageStatus.FAILED, resend_key(1))
    second_again = _message(4, MessageStatus.SENT, resend_key(2))
    third_try = _message(5, MessageStatus.SENT, resend_key(3))
    parts = [first, second, again, second_again, third_try]
    assert [p.id for p in current_parts(parts)] == [5, 4]
    assert [p.id for p in current_parts([first, second])] == [1, 2]
    # A resend whose original is not among the parts is a part of its own.
    assert [p.id for p in current_parts([again])] == [3]
