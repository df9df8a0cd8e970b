"""What the Graph API says about a media object, and the media kinds a message can carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["CAPTIONED_KINDS", "MEDIA_KINDS", "MediaInfo", "parse_media_info"]

MEDIA_KINDS: Final = frozenset({"image", "document", "audio", "video", "sticker"})
#: Meta rejects a caption on audio and stickers.
CAPTIONED_KINDS: Final = frozenset({"image", "document", "video"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaInfo:
    """A media object's download URL (valid about 5 minutes, needs the bearer token) and facts."""

    id: str
    url: str
    mime_type: str
    sha256: str | None = None
    file_size: int | None = None


def parse_media_info(data: dict[str, Any], media_id: str) -> MediaInfo:
    """``MediaInfo`` from the ``GET /{media_id}`` answer; raises ``ValueError`` without a url."""
    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("media answer has no url")
    sha = data.get("sha256")
    mime = data.get("mime_type")
    return MediaInfo(
        id=str(data.get("id") or media_id),
        url=url,
        mime_type=mime if isinstance(mime, str) else "application/octet-stream",
        sha256=sha if isinstance(sha, str) else None,
        file_size=_size(data.get("file_size")),
    )


def _size(value: object) -> int | None:
    # Meta has sent file_size both as a number and as a string.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None
