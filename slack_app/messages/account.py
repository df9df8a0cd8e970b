"""Operator notices: what the channel is told about the WhatsApp account and its numbers
(quality, messaging limits, restrictions, violations, bans), and what to do about it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from bridge.domain import AccountEventKind, OperatorNotice, Restriction
from slack_app.messages.customer import escape

__all__ = ["operator_notice_text"]

_K = AccountEventKind

_QUALITY: Final[Mapping[str, str]] = MappingProxyType(
    {"GREEN": "high (green)", "YELLOW": "medium (yellow)", "RED": "low (red)"}
)
_RESTRICTED: Final[Mapping[Restriction, str]] = MappingProxyType(
    {
        Restriction.START_CONVERSATIONS: "start conversations (templates to customers who "
        "did not write first)",
        Restriction.REPLY_TO_CUSTOMERS: "reply to customers",
        Restriction.ADD_PHONE_NUMBERS: "add phone numbers",
        Restriction.OTHER: "do some things",
    }
)
_TIER: Final = re.compile(r"(\d+)(K?)")


def _number(notice: OperatorNotice) -> str:
    number = notice.number or ""
    if not number:
        return "your WhatsApp number"
    return f"+{number}" if number.isdigit() else escape(number)


def _account(notice: OperatorNotice, *, first: bool = False) -> str:
    """The account, as WhatsApp's sentences name it (the first words of one: in full)."""
    waba = f" `{escape(notice.waba_id)}`" if notice.waba_id else ""
    if first:
        return f"The WhatsApp Business Account{waba}"
    return f"business account{waba}" if waba else "your business account"


def _count(tier: str) -> str:
    """``1K`` -> ``1,000``; ``UNLIMITED`` -> ``unlimited``."""
    match = _TIER.fullmatch(tier)
    if match is not None:
        return f"{int(match.group(1)) * (1000 if match.group(2) else 1):,}"
    return escape(tier.replace("_", " ").lower())


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def _on(notice: OperatorNotice) -> str:
    return f" on {escape(notice.effective)}" if notice.effective else ""


def _quality(notice: OperatorNotice) -> str:
    if notice.kind == _K.QUALITY_DOWN:
        rating = _QUALITY.get(notice.quality or "")
        what = f"dropped to {rating}" if rating and notice.quality != "GREEN" else "is low"
        return (
            f":warning: *The quality rating of {_number(notice)} {what}.* Customers have been "
            "blocking or reporting its messages. Send fewer templates, only to customers who "
            "expect them, and keep messages useful: if it stays low, WhatsApp lowers the "
            "number's messaging limit."
        )
    return (
        f":large_green_circle: *The quality rating of {_number(notice)} is back up.* "
        "Nothing to do: keep messages wanted and useful."
    )


def _limits(notice: OperatorNotice) -> str:
    down = notice.kind == _K.LIMIT_DOWN
    was = (
        f" ({'down' if down else 'up'} from {_count(notice.previous_limit)})"
        if notice.previous_limit
        else ""
    )
    if notice.limit:
        what = f"{_number(notice)} may now start {_count(notice.limit)} conversations a day{was}."
    else:
        what = f"The messaging limit of {_number(notice)} went {'down' if down else 'up'}."
    if down:
        return (
            f":arrow_down: *{what}* Its quality was low for a while: send templates only to "
            "customers who expect them until the limit goes back up. Replies to customers who "
            "write first are not limited."
        )
    return f":arrow_up: *{what}* Nothing to do."


def _restricted(notice: OperatorNotice) -> str:
    until = f" until {_day(notice.until)}" if notice.until else ""
    cannot = " or ".join(_RESTRICTED[r] for r in notice.restrictions) or "do some things"
    replies = (
        ""
        if Restriction.REPLY_TO_CUSTOMERS in notice.restrictions
        else " Replies inside the 24-hour window still go out."
    )
    return (
        f":no_entry: *WhatsApp restricted {_account(notice)}{until}:* it cannot {cannot}."
        f"{replies} See Account quality in WhatsApp Manager for why, and appeal there if it "
        "is a mistake."
    )


def operator_notice_text(notice: OperatorNotice) -> str:
    """The words of an operator notice: what happened, then what to do."""
    kind = notice.kind
    if kind in (_K.QUALITY_DOWN, _K.QUALITY_UP):
        return _quality(notice)
    if kind in (_K.LIMIT_DOWN, _K.LIMIT_UP):
        return _limits(notice)
    if kind == _K.RESTRICTED:
        return _restricted(notice)
    if kind == _K.VIOLATION:
        what = escape(notice.violation.replace("_", " ").lower()) if notice.violation else ""
        return (
            ":no_entry: *WhatsApp found a policy violation"
            + (f" ({what})" if what else "")
            + f" on {_account(notice)}.* Review it under Account quality in WhatsApp Manager "
            "and appeal there if it is a mistake: more violations can restrict or ban the "
            "account."
        )
    if kind == _K.DISABLED:
        return (
            f":octagonal_sign: *WhatsApp disabled {_account(notice)}{_on(notice)}.* Nothing "
            "can be sent from its numbers. Request a review under Account quality in "
            "WhatsApp Manager if it is a mistake."
        )
    if kind == _K.DISABLE_SCHEDULED:
        return (
            f":warning: *WhatsApp will disable {_account(notice)}{_on(notice)}.* Fix or appeal "
            "the violations under Account quality in WhatsApp Manager before then to keep it."
        )
    if kind == _K.REINSTATED:
        return (
            f":white_check_mark: *WhatsApp reinstated {_account(notice)}{_on(notice)}.* "
            "Messages can be sent again; nothing to do."
        )
    if kind == _K.DELETED:
        return (
            f":octagonal_sign: *{_account(notice, first=True)} was deleted.* Its numbers can "
            "no longer send or receive messages here: tell an admin."
        )
    if kind == _K.OFFBOARDED:
        return (
            f":warning: *{_account(notice, first=True)} was disconnected (offboarded).* "
            "Messages may stop arriving here: tell an admin to check it in WhatsApp Manager."
        )
    if kind == _K.RECONNECTED:
        return (
            f":white_check_mark: *{_account(notice, first=True)} is connected again.* "
            "Messages flow as before; nothing to do."
        )
    if kind == _K.UNKNOWN_NUMBER:
        pnid = escape(notice.phone_number_id or "?")
        return (
            f":mailbox_with_mail: *A customer wrote to {_number(notice)} (phone number id "
            f"`{pnid}`), a number this bridge does not know.* Their messages are kept, not "
            "shown. If the number is yours, an admin adds it with `wabridge numbers add "
            f"--phone-number-id {pnid} …` and the waiting messages arrive in its channel."
        )
    return f":information_source: WhatsApp sent news about {_account(notice)}."
