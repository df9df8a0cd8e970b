"""Which WhatsApp media kind an agent's file goes out as, and Meta's size limit for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["CAPTIONED", "MAX_CAPTION", "MEDIA_LIMITS", "OutboundFile", "outbound_file"]

_MB: Final = 1024 * 1024

#: The kinds WhatsApp shows a caption with, and the caption's longest length.
CAPTIONED: Final = frozenset({"image", "video", "document"})
MAX_CAPTION: Final = 1024

#: Meta's upload limits per media kind (NOTES.md, "Media").
MEDIA_LIMITS: Final = {
    "image": 5 * _MB,
    "video": 16 * _MB,
    "audio": 16 * _MB,
    "sticker": 100 * 1024,
    "document": 100 * _MB,
}

#: The MIME types Meta takes for each kind other than document, which takes any file.
_KINDS: Final = {
    "image/jpeg": "image",
    "image/png": "image",
    "video/mp4": "video",
    "video/3gpp": "video",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",
    "image/webp": "sticker",
}

_NOUNS: Final = {
    "image": "images",
    "video": "videos",
    "audio": "audio files",
    "sticker": "stickers",
    "document": "documents",
}

_ONE: Final = {"audio": "audio file"}


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundFile:
    """How a file goes out: its kind, and whether it fits (``refusal`` says why not)."""

    kind: str
    limit: int
    refusal: str | None = None


def _size(size: int) -> str:
    # Rounded up: a file one byte over a limit must not read as the limit itself.
    if size >= _MB:
        tenths = -(-size * 10 // _MB)
        return f"{tenths // 10}.{tenths % 10} MB".replace(".0 MB", " MB")
    return f"{max(-(-size // 1024), 1)} KB"


def outbound_file(name: str, mime_type: str, size: int) -> OutboundFile:
    """The kind a file of ``mime_type`` is sent as (a type WhatsApp does not show inline goes
    as a document), and a plain refusal naming the limit when it is too large."""
    mime = mime_type.split(";")[0].strip().lower()
    kind = _KINDS.get(mime, "document")
    if kind == "sticker" and size > MEDIA_LIMITS["sticker"]:
        kind = "document"  # a large WebP is a picture, not a sticker: it goes as a file
    limit = MEDIA_LIMITS[kind]
    if size <= limit:
        return OutboundFile(kind=kind, limit=limit)
    if kind == "document":
        instead = "Share a link to it instead."
    else:
        instead = (
            f"Send a smaller {_ONE.get(kind, kind)} (up to {_size(limit)}), or a link to it. "
            f"Zipped, it can go as a document of up to {_size(MEDIA_LIMITS['document'])}."
        )
    refusal = (
        f"{name} is {_size(size)}; WhatsApp takes {_NOUNS[kind]} up to {_size(limit)}. {instead}"
    )
    return OutboundFile(kind=kind, limit=limit, refusal=refusal)
