"""Errors of the core. One root, and a branch per way the outside world can fail us.

BridgeError
 ├── DeliveryError        the WhatsApp side refused or failed a send (code, title, transient)
 ├── ChatError            the chat surface (Slack) failed a call (transient, retry_after)
 ├── WebhookParseError    a signed webhook body that cannot be understood at all
 └── ConversationNotFoundError no conversation has that id or thread
"""

from __future__ import annotations

__all__ = [
    "BridgeError",
    "ChatError",
    "ConversationNotFoundError",
    "DeliveryError",
    "WebhookParseError",
]


class BridgeError(Exception):
    """Root of every error the core raises or expects from its ports."""


class DeliveryError(BridgeError):
    """A WhatsApp send that did not go through; ``transient`` says whether a retry may help."""

    def __init__(
        self,
        *,
        code: int | None,
        title: str,
        details: str = "",
        transient: bool,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(f"({code}) {title}" + (f": {details}" if details else ""))
        self.code = code
        self.title = title
        self.details = details
        self.transient = transient
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id


class ChatError(BridgeError):
    """A chat-surface call that failed; retry after ``retry_after`` seconds when given."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class WebhookParseError(BridgeError):
    """A webhook body that is not JSON or not shaped like a WhatsApp webhook at all."""


class ConversationNotFoundError(BridgeError):
    """No conversation matches."""
