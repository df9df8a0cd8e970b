"""Messages: who sent them, which way they went, and where their delivery stands."""

from __future__ import annotations

import enum

__all__ = [
    "Direction",
    "MessageStatus",
    "SenderType",
    "advance_status",
    "is_delivery_stage",
    "least_advanced",
    "reached_stages",
]


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SenderType(enum.StrEnum):
    CONTACT = "contact"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class MessageStatus(enum.StrEnum):
    """Where a message stands. Outbound ones only move forward: see ``advance_status``."""

    RECEIVED = "received"
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    #: A voice note was played: a stage past ``READ``, shown on its own.
    PLAYED = "played"
    FAILED = "failed"
    DELETED = "deleted"


# The delivery order. FAILED and DELETED are final and sit outside the ladder.
_LADDER: dict[MessageStatus, int] = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
    MessageStatus.PLAYED: 4,
}
_FINAL = frozenset({MessageStatus.FAILED, MessageStatus.DELETED})


def advance_status(current: MessageStatus, new: MessageStatus) -> MessageStatus | None:
    """The status after ``new`` arrives on a message at ``current``, or None if nothing changes.

    Statuses never go backwards: a late ``delivered`` after ``read`` changes nothing,
    and ``failed`` is final. A failure can still arrive after ``sent`` or ``delivered``
    (Meta reports some failures late), but not once the customer has read (or played) it.
    """
    if current == new or current in _FINAL:
        return None
    if new == MessageStatus.FAILED:
        return None if _LADDER.get(current, 0) >= _LADDER[MessageStatus.READ] else new
    if new == MessageStatus.DELETED:
        return new
    if new not in _LADDER or current not in _LADDER:
        return None
    return new if _LADDER[new] > _LADDER[current] else None


def reached_stages(status: MessageStatus) -> tuple[MessageStatus, ...]:
    """The delivery stages a message at ``status`` has gone through, in order: a later stage
    implies the earlier ones (``read`` means it was sent and delivered, whatever Meta reported
    or skipped)."""
    if status == MessageStatus.FAILED:
        return (MessageStatus.FAILED,)
    rank = _LADDER.get(status, 0)
    return tuple(s for s, r in _LADDER.items() if 0 < r <= rank)


def is_delivery_stage(status: MessageStatus) -> bool:
    """Whether ``status`` is a stage of the delivery ladder (sent, delivered, read, played)."""
    return _LADDER.get(status, 0) > 0


def least_advanced(statuses: list[MessageStatus]) -> MessageStatus:
    """The status a reply sent in several parts shows: failed if any part failed, else the
    stage every part has reached."""
    if not statuses:
        raise ValueError("no statuses")
    if MessageStatus.FAILED in statuses:
        return MessageStatus.FAILED
    on_ladder = [s for s in statuses if s in _LADDER]
    if not on_ladder:
        return statuses[0]
    return min(on_ladder, key=_LADDER.__getitem__)
