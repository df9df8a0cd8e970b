"""The Meta Cloud API, as the core needs it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bridge.domain import WebhookEvent

__all__ = ["WebhookParser", "WhatsApp"]


class WhatsApp(Protocol):
    """Sends and read receipts. Failures raise ``bridge.errors.DeliveryError``, whose kind
    the adapter has already decided."""

    async def send_text(
        self, *, phone_number_id: str, to: str, text: str, reply_to: str | None = None
    ) -> str: ...

    async def send_template(
        self,
        *,
        phone_number_id: str,
        to: str,
        name: str,
        language: str,
        components: Sequence[dict[str, Any]] = (),
    ) -> str: ...

    async def mark_read(self, *, phone_number_id: str, wamid: str) -> None: ...


class WebhookParser(Protocol):
    def parse(self, body: bytes) -> list[WebhookEvent]:
        """Every event of a webhook body, in order; raises ``WebhookParseError``."""
        ...
