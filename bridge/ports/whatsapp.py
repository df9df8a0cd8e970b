"""The Meta Cloud API, as the core needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bridge.domain import MessageTemplate, WebhookEvent

__all__ = ["MediaFile", "OutboundContent", "WebhookParser", "WhatsApp"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A customer's media, fetched to a local file."""

    mime_type: str
    size: int


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
        template: MessageTemplate,
        values: Mapping[str, str],
    ) -> str:
        """Send ``template`` filled with ``values`` (keyed by ``Placeholder.key``)."""
        ...

    async def send_message(
        self,
        *,
        phone_number_id: str,
        to: str,
        message_type: str,
        content: Mapping[str, Any],
        reply_to: str | None = None,
    ) -> str:
        """Send any message in CONTRACT.md's content form (``{"media_id", "caption"}`` for
        an image…); returns its wamid. Content WhatsApp would refuse fails before any call."""
        ...

    async def upload_media(
        self, *, phone_number_id: str, path: Path, mime_type: str, filename: str
    ) -> str:
        """Upload a file for sending (streamed from ``path``); returns its media id."""
        ...

    async def mark_read(self, *, phone_number_id: str, wamid: str) -> None: ...

    async def fetch_media(
        self, media_id: str, dest: Path, *, max_bytes: int, phone_number_id: str | None = None
    ) -> MediaFile:
        """Download a media object to ``dest``, streaming (never whole in memory); a
        ``DeliveryError`` if it is gone, larger than ``max_bytes``, or unreachable."""
        ...

    async def display_number(self, phone_number_id: str) -> str:
        """The business number's phone number, digits only (for a conversation's parent)."""
        ...

    async def templates(
        self, waba_id: str, *, phone_number_id: str | None = None
    ) -> list[MessageTemplate]:
        """Every template of a WhatsApp Business Account, all pages, read with the token of
        ``phone_number_id`` (a number of that account; None: the default token)."""
        ...


class WebhookParser(Protocol):
    def parse(self, body: bytes) -> list[WebhookEvent]:
        """Every event of a webhook body, in order; raises ``WebhookParseError``."""
        ...


class OutboundContent(Protocol):
    """What WhatsApp takes as a message's content, known before anything is stored or sent.
    Both raise ``bridge.errors.InvalidContentError``, its ``field`` the path of what is wrong
    (``content.buttons[3].title``)."""

    def check(self, *, to: str, message_type: str, content: Mapping[str, Any]) -> None:
        """Refuse ``content`` of ``message_type`` to ``to`` where WhatsApp would refuse it."""
        ...

    def template_values(
        self, template: MessageTemplate, content: Mapping[str, Any]
    ) -> dict[str, str]:
        """The values (by ``Placeholder.key``) that template ``content`` (which passed
        ``check``) fills ``template`` with, whichever of the content forms it is in."""
        ...
