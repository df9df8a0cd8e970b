"""Message templates: kept in step with the WhatsApp Business Account, and looked up by agents.

A full sync (``wabridge templates sync``, and hourly in ``serve``) replaces what is stored
with every page Meta lists; Meta's template webhooks move a template's status, quality or
category in between. Only approved templates are ever offered.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from bridge.domain import MessageTemplate, TemplateUpdate
from bridge.ports import Clock, UnitOfWork, UnitOfWorkFactory, WhatsApp

__all__ = [
    "Lookup",
    "LookupOutcome",
    "SyncResult",
    "Templates",
    "apply_template_update",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    total: int
    usable: int


class LookupOutcome(enum.StrEnum):
    FOUND = "found"
    UNKNOWN = "unknown"
    NOT_USABLE = "not_usable"
    WHICH_LANGUAGE = "which_language"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    outcome: LookupOutcome
    template: MessageTemplate | None = None
    #: What exists under that name (languages to choose from, or the unusable one's status).
    candidates: tuple[MessageTemplate, ...] = ()


async def apply_template_update(uow: UnitOfWork, event: TemplateUpdate, *, now: datetime) -> bool:
    """Apply a template webhook in the caller's transaction; False if the template is new to
    us (the next sync brings it whole)."""
    applied = await uow.templates.apply_update(event, now=now)
    log.info(
        "template updated" if applied else "template update for a template not synced yet",
        extra={
            "template": event.name,
            "language": event.language,
            "status": event.status,
            "quality": event.quality,
        },
    )
    return applied


class Templates:
    """The templates of one WhatsApp Business Account."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, whatsapp: WhatsApp, clock: Clock, waba_id: str
    ) -> None:
        self._uow = uow
        self._whatsapp = whatsapp
        self._clock = clock
        self.waba_id = waba_id

    async def sync(self) -> SyncResult:
        """Fetch every template, following Meta's pages to the end, and keep exactly those."""
        templates = await self._whatsapp.templates(self.waba_id)
        async with self._uow() as uow:
            await uow.templates.replace_all(self.waba_id, templates, now=self._clock.now())
            await uow.commit()
        result = SyncResult(total=len(templates), usable=sum(t.usable for t in templates))
        log.info(
            "templates synced",
            extra={"waba_id": self.waba_id, "templates": result.total, "usable": result.usable},
        )
        return result

    async def all(self) -> list[MessageTemplate]:
        async with self._uow() as uow:
            return await uow.templates.all(self.waba_id)

    async def usable(self, text: str = "") -> list[MessageTemplate]:
        """Approved templates, by language then name; ``text`` filters on name, language,
        category and body."""
        needle = text.strip().lower()
        return sorted(
            (
                t
                for t in await self.all()
                if t.usable
                and (
                    not needle
                    or needle in " ".join((t.name, t.language, t.category, t.body_text)).lower()
                )
            ),
            key=lambda t: (t.language, t.name),
        )

    async def find(self, name: str, language: str | None = None) -> Lookup:
        """The template an agent named, or why it cannot be used."""
        named = [t for t in await self.all() if t.name == name]
        if language:
            named = [t for t in named if t.language.lower() == language.lower()]
        usable = [t for t in named if t.usable]
        if not named:
            return Lookup(outcome=LookupOutcome.UNKNOWN)
        if not usable:
            return Lookup(outcome=LookupOutcome.NOT_USABLE, candidates=tuple(named))
        if len(usable) > 1:
            return Lookup(outcome=LookupOutcome.WHICH_LANGUAGE, candidates=tuple(usable))
        return Lookup(outcome=LookupOutcome.FOUND, template=usable[0])
