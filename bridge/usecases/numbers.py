"""Several business numbers: the environment's (the default) and those added with
``wabridge numbers add``, each with its own channel and, optionally, its own credentials.

Every process keeps the numbers in a ``NumberBook``, read again from the database every few
seconds and at once when an unknown number shows up, so a number added by the command line
reaches running processes without a restart.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from bridge.domain import AccountEventKind, DeliveryProblem, FailureKind, OperatorNotice
from bridge.errors import DeliveryError
from bridge.jobs import PostOperatorNotice
from bridge.ports import BusinessNumber, Clock, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "UNKNOWN_NUMBER",
    "AddOutcome",
    "NumberBook",
    "NumberError",
    "Numbers",
    "report_unknown_number",
]

log = logging.getLogger(__name__)

#: Why a webhook for a number nobody added waits among the dead letters.
UNKNOWN_NUMBER: Final = "unknown_number"
#: How long a process trusts what it read of the numbers.
BOOK_TTL: Final = timedelta(seconds=10)

_PHONE_NUMBER_ID: Final = re.compile(r"^\d{5,32}$")
_DISPLAY: Final = re.compile(r"^\d{6,20}$")
_CHANNEL: Final = re.compile(r"^[CG][A-Z0-9]{6,}$")
_WABA: Final = re.compile(r"^\d{5,32}$")


class NumberBook:
    """Which numbers this bridge serves, as one process knows them."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        default: BusinessNumber,
        ttl: timedelta = BOOK_TTL,
        on_secrets: Callable[[Iterable[str]], None] = lambda secrets: None,
    ) -> None:
        """``on_secrets`` hears the added numbers' tokens and app secrets as they are read
        (the logs keep them out of every line)."""
        self._uow = uow
        self._on_secrets = on_secrets
        self._default = replace(default, default=True)
        self._ttl = ttl.total_seconds()
        self._added: dict[str, BusinessNumber] = {}
        #: When the numbers were read (``time.monotonic``: a cache's age, not the bridge's time).
        self._read_at: float | None = None

    @property
    def default(self) -> BusinessNumber:
        return self._default

    async def lookup(
        self, phone_number_id: str, *, uow: UnitOfWork | None = None
    ) -> BusinessNumber | None:
        """The number, or None if nobody added it (read again before saying so). Inside a
        transaction, pass its ``uow``: the numbers are read in it."""
        if phone_number_id == self._default.phone_number_id:
            return self._default
        await self._fresh(uow)
        number = self._added.get(phone_number_id)
        if number is None:
            await self.reload(uow)  # added a moment ago, perhaps: unknown numbers are rare
            number = self._added.get(phone_number_id)
        return number

    async def numbers(self) -> list[BusinessNumber]:
        """The default number first, then the added ones."""
        await self._fresh()
        return [self._default, *self._added.values()]

    async def secrets_for(self, phone_number_ids: Iterable[str]) -> set[str | None]:
        """The app secrets that may sign a webhook naming these numbers (None: the
        environment's). Unknown numbers are checked with the environment's."""
        await self._fresh()
        found = {
            (self._added[p].app_secret if p in self._added else None) for p in phone_number_ids
        }
        return found or {None}

    async def any_own_secret(self) -> bool:
        """Whether some added number brings its own app secret."""
        await self._fresh()
        return any(n.app_secret for n in self._added.values())

    async def token_for(self, phone_number_id: str | None) -> str | None:
        """The number's own access token; None: the environment's. A number the bridge does
        not serve (removed, its conversations kept) gets none: a call from it with the
        environment's token would be refused as bad credentials, pausing every number's
        sends, when only that conversation cannot send."""
        if phone_number_id is None or phone_number_id == self._default.phone_number_id:
            return None
        number = await self.lookup(phone_number_id)
        if number is None:
            raise DeliveryError(
                code=None,
                title=f"The business number {phone_number_id} is not served by this bridge",
                details="removed with `wabridge numbers remove`; its conversations are kept",
                kind=FailureKind.PERMANENT,
                problem=DeliveryProblem.NUMBER_NOT_SERVED,
            )
        return number.access_token

    async def reload_unless_recent(self, within: timedelta = timedelta(seconds=1)) -> bool:
        """Read the numbers again unless that was done ``within``; True if it read them.
        (For requests nobody vouched for yet: a flood of them costs one read a second.)"""
        read_at = self._read_at
        if read_at is not None and time.monotonic() - read_at < within.total_seconds():
            return False
        await self.reload()
        return True

    async def _fresh(self, uow: UnitOfWork | None = None) -> None:
        read_at = self._read_at
        if read_at is None or time.monotonic() - read_at >= self._ttl:
            await self.reload(uow)

    async def reload(self, uow: UnitOfWork | None = None) -> None:
        # No lock is held while reading: on SQLite a transaction waits for every other one
        # in the process, so a lock held around a read outside a transaction, and wanted by
        # a read inside one, would deadlock the two. Reads may overlap; the newest one wins.
        started = time.monotonic()
        if uow is not None:
            added = await uow.numbers.added()
        else:
            async with self._uow() as own:
                added = await own.numbers.added()
        if self._read_at is not None and started < self._read_at:
            return  # a read that began later already answered
        self._added = {
            n.phone_number_id: n
            for n in added
            if n.phone_number_id != self._default.phone_number_id
        }
        self._read_at = started
        self._on_secrets(
            secret
            for n in self._added.values()
            for secret in (n.access_token, n.app_secret)
            if secret
        )


async def report_unknown_number(
    uow: UnitOfWork,
    *,
    phone_number_id: str,
    display_phone_number: str | None,
    channel: str,
    now: datetime,
) -> bool:
    """Tell operators (once a day per number) that WhatsApp wrote to a number nobody added;
    its webhooks wait among the dead letters until it is."""
    notice = OperatorNotice(
        kind=AccountEventKind.UNKNOWN_NUMBER,
        number=display_phone_number,
        phone_number_id=phone_number_id,
    )
    day = f"{phone_number_id}:{now.date().isoformat()}"
    key = "number:" + hashlib.sha256(day.encode()).hexdigest()[:25]  # keys are 32 at most
    return await uow.jobs.enqueue_keyed(
        PostOperatorNotice(channel=channel, notice=notice), key=key, now=now
    )


class NumberError(ValueError):
    """A number that cannot be added or removed as given, worded for the operator."""


class AddOutcome(enum.StrEnum):
    ADDED = "added"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Added:
    outcome: AddOutcome
    #: Webhooks that waited for this number (or another unknown one), queued again.
    replayed: int


def _digits(value: str) -> str:
    return re.sub(r"[\s+\-()]", "", value)


class Numbers:
    """``wabridge numbers``: add, list and remove business numbers."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, default: BusinessNumber) -> None:
        self._uow = uow
        self._clock = clock
        self._default = replace(default, default=True)

    async def add(self, number: BusinessNumber) -> Added:
        number = self._checked(number)
        now = self._clock.now()
        async with self._uow() as uow:
            created = await uow.numbers.add(number, now=now)
            # Webhooks kept for unknown numbers go through again; those still unknown wait on.
            replayed = await uow.inbox.replay_failed(reason=UNKNOWN_NUMBER, now=now)
            await uow.commit()
        log.info(
            "business number added" if created else "business number updated",
            extra={"phone_number_id": number.phone_number_id, "replayed": replayed},
        )
        return Added(outcome=AddOutcome.ADDED if created else AddOutcome.UPDATED, replayed=replayed)

    async def list(self) -> list[BusinessNumber]:
        async with self._uow() as uow:
            added = await uow.numbers.added()
        return [self._default, *added]

    async def remove(self, phone_number_id: str) -> None:
        if phone_number_id == self._default.phone_number_id:
            raise NumberError(
                f"{phone_number_id} is the default number (META_PHONE_NUMBER_ID); "
                "change the environment to change it"
            )
        async with self._uow() as uow:
            removed = await uow.numbers.remove(phone_number_id)
            await uow.commit()
        if not removed:
            raise NumberError(f"no added number has the phone number id {phone_number_id}")
        log.info("business number removed", extra={"phone_number_id": phone_number_id})

    def _checked(self, number: BusinessNumber) -> BusinessNumber:
        pnid = number.phone_number_id.strip()
        if not _PHONE_NUMBER_ID.match(pnid):
            raise NumberError(
                f"--phone-number-id must be the number's id in WhatsApp Manager (digits), "
                f"not {pnid!r}"
            )
        if pnid == self._default.phone_number_id:
            raise NumberError(
                f"{pnid} is the default number (META_PHONE_NUMBER_ID); it needs no adding"
            )
        display = _digits(number.display_phone_number or "")
        if not _DISPLAY.match(display):
            raise NumberError(
                "--display-number must be the phone number with its country code, "
                f"like +4915112345678, not {number.display_phone_number!r}"
            )
        waba = (number.waba_id or "").strip()
        if not _WABA.match(waba):
            raise NumberError(
                f"--waba-id must be the WhatsApp Business Account id (digits), not {waba!r}"
            )
        channel = number.slack_channel.strip()
        if not _CHANNEL.match(channel):
            raise NumberError(
                f"--channel must be a Slack channel id like C0123456789 (not a name), "
                f"not {channel!r}"
            )
        token = (number.access_token or "").strip() or None
        secret = (number.app_secret or "").strip() or None
        return BusinessNumber(
            phone_number_id=pnid,
            display_phone_number=display,
            waba_id=waba,
            slack_channel=channel,
            access_token=token,
            app_secret=secret,
        )
