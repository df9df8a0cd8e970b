"""Request bodies read with a cap, before anything is buffered whole."""

from __future__ import annotations

from typing import Final

from fastapi import Request

__all__ = ["MAX_BODY_BYTES", "read_limited"]

#: Meta's webhooks and Slack's requests alike (CONTRACT.md: over 1 MiB is answered 413).
MAX_BODY_BYTES: Final = 1024 * 1024


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None as soon as it passes ``limit`` bytes (never buffers more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
