"""Message templates of each WhatsApp Business Account, kept as Meta last described them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from bridge.codec import from_json, to_json
from bridge.domain import MessageTemplate, TemplateUpdate
from storage.models import TemplateEntry
from storage.repositories.base import Repository

__all__ = ["SqlTemplates"]


def _template(entry: TemplateEntry) -> MessageTemplate:
    # Webhooks update the columns; the definition keeps the rest.
    return dataclasses.replace(
        from_json(MessageTemplate, entry.definition),
        status=entry.status,
        quality=entry.quality,
        category=entry.category,
    )


class SqlTemplates(Repository):
    async def replace_all(
        self, waba_id: str, templates: Sequence[MessageTemplate], *, now: datetime
    ) -> None:
        keep = {(t.name, t.language) for t in templates}
        existing = {
            (e.name, e.language): e
            for e in await self._session.scalars(
                select(TemplateEntry).where(TemplateEntry.waba_id == waba_id)
            )
        }
        for key, gone in existing.items():
            if key not in keep:  # deleted at Meta
                await self._session.delete(gone)
        for template in templates:
            entry = existing.get((template.name, template.language))
            values: dict[str, Any] = {
                "template_id": template.template_id,
                "category": template.category,
                "status": template.status,
                "quality": template.quality or (entry.quality if entry else None),
                "definition": to_json(template),
                "synced_at": now,
            }
            if entry is None:
                self._session.add(
                    TemplateEntry(
                        waba_id=waba_id, name=template.name, language=template.language, **values
                    )
                )
            else:
                for column, value in values.items():
                    setattr(entry, column, value)
        await self._session.flush()

    async def apply_update(self, update: TemplateUpdate, *, now: datetime) -> bool:
        """Apply a template webhook (status, quality, category or wording); False if the
        template is not known yet (a sync will bring it whole)."""
        same_name = (TemplateEntry.name == update.name) & (
            TemplateEntry.language == update.language
        )
        # Without an id, only the name and language can tell (never "both ids are NULL").
        which = (
            or_(TemplateEntry.template_id == update.template_id, same_name)
            if update.template_id is not None
            else same_name
        )
        entry = await self._session.scalar(
            select(TemplateEntry).where(TemplateEntry.waba_id == update.waba_id, which).limit(1)
        )
        if entry is None:
            return False
        if update.status:
            entry.status = update.status
        if update.quality:
            entry.quality = update.quality
        if update.category:
            entry.category = update.category
        if update.changes_wording:
            reworded = from_json(MessageTemplate, entry.definition).reworded(
                header_text=update.header_text,
                body_text=update.body_text,
                footer_text=update.footer_text,
                buttons=update.buttons,
            )
            entry.definition = to_json(reworded)
        entry.synced_at = now
        await self._session.flush()
        return True

    async def all(self, waba_id: str) -> list[MessageTemplate]:
        rows = await self._session.scalars(
            select(TemplateEntry)
            .where(TemplateEntry.waba_id == waba_id)
            .order_by(TemplateEntry.name, TemplateEntry.language)
        )
        return [_template(r) for r in rows]
