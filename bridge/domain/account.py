"""News about the WhatsApp Business Account and its phone numbers: quality, messaging limits,
restrictions, violations, bans. Operators hear about it in the number's channel.

The WhatsApp adapter maps Meta's event names onto ``AccountEventKind``; a name it does not
know becomes ``OTHER``: kept in the log, shown to nobody.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["AccountEventKind", "OperatorNotice", "Restriction"]


class AccountEventKind(enum.StrEnum):
    #: A phone number's quality dropped (Meta flagged it, or rated it YELLOW or RED).
    QUALITY_DOWN = "quality_down"
    #: A phone number's quality recovered.
    QUALITY_UP = "quality_up"
    #: A phone number may start fewer conversations a day.
    LIMIT_DOWN = "limit_down"
    #: A phone number may start more conversations a day (or send faster).
    LIMIT_UP = "limit_up"
    #: Meta found a policy violation on the account.
    VIOLATION = "violation"
    #: Meta restricted what the account may do, for a while.
    RESTRICTED = "restricted"
    #: Meta disabled (banned) the account.
    DISABLED = "disabled"
    #: Meta will disable the account on a date unless the business acts.
    DISABLE_SCHEDULED = "disable_scheduled"
    #: Meta lifted a ban.
    REINSTATED = "reinstated"
    #: The account was deleted.
    DELETED = "deleted"
    #: The account was offboarded (disconnected from the platform).
    OFFBOARDED = "offboarded"
    #: The account was connected again.
    RECONNECTED = "reconnected"
    #: WhatsApp wrote to a business number nobody added (``wabridge numbers add``).
    UNKNOWN_NUMBER = "unknown_number"
    #: News that needs nobody (a partner added, a pricing tier...): logged only.
    OTHER = "other"


class Restriction(enum.StrEnum):
    """What a restricted account may not do."""

    START_CONVERSATIONS = "start_conversations"
    REPLY_TO_CUSTOMERS = "reply_to_customers"
    ADD_PHONE_NUMBERS = "add_phone_numbers"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorNotice:
    """What operators are told about their account or one of its numbers, as a message of its
    own in the number's channel. Fields the news does not carry are None."""

    kind: AccountEventKind
    waba_id: str | None = None
    #: The phone number, as Meta displays it.
    number: str | None = None
    #: The number's quality rating (GREEN, YELLOW, RED), when Meta gave one.
    quality: str | None = None
    #: Messaging limits, as conversations a day ("250", "1K", "UNLIMITED").
    limit: str | None = None
    previous_limit: str | None = None
    #: The kind of violation Meta found ("ADULT", "SCAM"...).
    violation: str | None = None
    restrictions: tuple[Restriction, ...] = ()
    #: When a restriction ends.
    until: datetime | None = None
    #: The date a ban takes (or took) effect, as Meta wrote it.
    effective: str | None = None
    #: The number's id in WhatsApp Manager (an unknown number's, to add it by).
    phone_number_id: str | None = None

    @property
    def shown(self) -> bool:
        """Whether operators hear about it at all."""
        return self.kind != AccountEventKind.OTHER
