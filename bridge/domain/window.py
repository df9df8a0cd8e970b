"""Meta's customer-service window: free-form messages only within 24 h of the customer's last."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = [
    "REFUSED_WINDOW_CLOSED",
    "WINDOW",
    "parent_shows_change",
    "window_expires_at",
    "window_is_open",
]

#: Free-form messages are allowed for this long after the customer's latest message, by that
#: message's own timestamp.
WINDOW = timedelta(hours=24)

#: Why an agent's message was refused before any call: the window was closed. It is kept as
#: the message's error, so refused replies can be counted and listed.
REFUSED_WINDOW_CLOSED = "window_closed"


def window_expires_at(last_customer_message_at: datetime | None) -> datetime | None:
    """When the window opened by the customer's latest message closes (None: never opened)."""
    if last_customer_message_at is None:
        return None
    return last_customer_message_at + WINDOW


def window_is_open(expires_at: datetime | None, *, now: datetime) -> bool:
    """Whether a free-form message may be sent at ``now``."""
    return expires_at is not None and now < expires_at


def parent_shows_change(shown: datetime | None, renewed: datetime, *, now: datetime) -> bool:
    """Whether a window renewed to end at ``renewed`` changes what the thread's parent shows
    of it, the end ``shown`` to the minute: it does where the parent shows no window, a
    closed one, or an earlier minute. A customer's burst of messages within a minute then
    costs Slack no update of the parent (``chat.update`` is one of its slower tiers)."""
    if shown is None or shown <= now:
        return True
    return _minute(renewed) > _minute(shown)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
