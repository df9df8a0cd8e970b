"""The ``X-Hub-Signature-256`` HMAC Meta puts on every webhook POST."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def _key(app_secret: bytes | str) -> bytes:
    return app_secret.encode() if isinstance(app_secret, str) else app_secret


def sign(app_secret: bytes | str, body: bytes) -> str:
    """The header value Meta would send for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return _PREFIX + hmac.new(_key(app_secret), body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: bytes | str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs the raw ``body``; False when missing or malformed, never raises."""
    if not isinstance(header, str) or not header.startswith(_PREFIX):
        return False
    received = header[len(_PREFIX) :].strip().lower()
    # compare_digest on str needs ASCII; a non-ASCII header is simply not a signature.
    if not received.isascii():
        return False
    return hmac.compare_digest(received, sign(app_secret, body)[len(_PREFIX) :])
