"""The ``X-Hub-Signature-256`` HMAC Meta puts on every webhook POST."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["SIGNATURE_HEADER", "WebhookSignatures", "named_numbers", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="
_HEX = frozenset("0123456789abcdef")


def _key(app_secret: bytes | str) -> bytes:
    return app_secret.encode() if isinstance(app_secret, str) else app_secret


def sign(app_secret: bytes | str, body: bytes) -> str:
    """The header value Meta would send for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return _PREFIX + hmac.new(_key(app_secret), body, hashlib.sha256).hexdigest()


def _digest(header: str | None) -> str | None:
    """The hex digest a header carries, lower-cased; None if it is not a signature's shape
    (missing, another scheme, or not 64 hex digits), which no secret can match."""
    if not isinstance(header, str):
        return None
    # Spaces around a header value are not part of it (servers strip them; ASGI may not).
    header = header.strip()
    if not header.startswith(_PREFIX):
        return None
    received = header[len(_PREFIX) :].strip().lower()
    # compare_digest on str needs ASCII; a non-ASCII header is simply not a signature.
    if len(received) != 64 or not received.isascii() or not _HEX.issuperset(received):
        return None
    return received


def verify_signature(app_secret: bytes | str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs the raw ``body``; False when missing or malformed, never raises."""
    received = _digest(header)
    if received is None:
        return False
    return hmac.compare_digest(received, sign(app_secret, body)[len(_PREFIX) :])


def named_numbers(body: bytes) -> set[str]:
    """The phone number ids a webhook body names (``metadata.phone_number_id``); empty for a
    body that is not Meta's shape, which the parser sets aside later."""
    try:
        data = json.loads(body)
    except ValueError:
        return set()
    found: set[str] = set()
    entries = data.get("entry") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else ():
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if isinstance(number, str) and number:
                found.add(number)
    return found


class WebhookSignatures:
    """Checks a webhook's signature with the app secret of the numbers it names.

    A number added with its own app secret (another Meta app) is checked with that secret;
    every other number, known or not, with the environment's. One body is signed by one
    app, so a body naming numbers of two apps is refused.
    """

    def __init__(
        self,
        *,
        app_secret: str,
        secrets_for: Callable[[Iterable[str]], Awaitable[set[str | None]]],
        any_own_secret: Callable[[], Awaitable[bool]],
        reload: Callable[[], Awaitable[bool]],
    ) -> None:
        """``reload`` reads the numbers again unless it did a moment ago (True if it did)."""
        self._app_secret = app_secret
        self._secrets_for = secrets_for
        self._any_own_secret = any_own_secret
        self._reload = reload

    async def verify(self, body: bytes, header: str | None) -> bool:
        if _digest(header) is None:
            return False  # no secret can match: the numbers are not read (the database may be away)
        if await self._check(body, header):
            return True
        # Perhaps the number, or its own secret, was added a moment ago.
        return await self._reload() and await self._check(body, header)

    async def _check(self, body: bytes, header: str | None) -> bool:
        if not await self._any_own_secret():  # one app: no need to read the body
            return verify_signature(self._app_secret, body, header)
        secrets = await self._secrets_for(named_numbers(body))
        if len(secrets) != 1:
            return False
        [secret] = secrets
        return verify_signature(secret or self._app_secret, body, header)
