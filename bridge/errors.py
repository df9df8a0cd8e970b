"""Errors of the core. One root, and a branch per way the outside world can fail us.

BridgeError
 ├── ExternalError            an outside call failed; ``kind`` (a FailureKind) says what next
 │    ├── DeliveryError       the WhatsApp side refused or failed a send (code, title, problem)
 │    └── ChatError           the chat surface (Slack) failed a call (Slack's error string)
 ├── WebhookParseError        a signed webhook body that cannot be understood at all
 ├── ConversationNotFoundError no conversation has that id or thread
 ├── RefusedError             a request the core turns down as asked (``reason`` says why)
 │    └── InvalidContentError a message's content WhatsApp would not take (``field`` says where)
 ├── JobDecodeError           a stored job whose type or payload this version cannot read
 ├── UnworkableJobError       a job that can never succeed (what it is about is gone)
 ├── JobNotReadyError         a job that must wait for another one first (retried)
 └── LeaseLostError           a worker's claim on a job ran out; another worker owns it now

Adapters raise ``ExternalError`` subclasses with the kind already decided from their own
error tables, so the core never branches on a Meta or Slack code.
"""

from __future__ import annotations

from typing import Final

from bridge.domain.failures import DeliveryProblem, FailureKind

__all__ = [
    "SLACK_REASON",
    "BridgeError",
    "ChatError",
    "ConversationNotFoundError",
    "DeliveryError",
    "ExternalError",
    "InvalidContentError",
    "JobDecodeError",
    "JobNotReadyError",
    "LeaseLostError",
    "RefusedError",
    "UnworkableJobError",
    "WebhookParseError",
]


class BridgeError(Exception):
    """Root of every error the core raises or expects from its ports."""


class ExternalError(BridgeError):
    """An outside call that failed.

    ``reason`` is short and stable (``slack:message_not_found``, ``meta:131026``): it labels
    metrics and dead letters. ``retry_after`` is the other side's own delay, in seconds;
    ``backoff_base`` asks for a steeper backoff than the default (Meta's pair rate wants 4^n).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        reason: str,
        retry_after: float | None = None,
        backoff_base: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after
        self.backoff_base = backoff_base

    @property
    def transient(self) -> bool:
        """Whether a retry may help."""
        return self.kind.retryable


class DeliveryError(ExternalError):
    """A WhatsApp call that did not go through."""

    def __init__(
        self,
        *,
        code: int | None,
        title: str,
        details: str = "",
        kind: FailureKind,
        problem: DeliveryProblem = DeliveryProblem.OTHER,
        reason: str | None = None,
        retry_after: float | None = None,
        backoff_base: float | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(
            (f"({code}) {title}" if code is not None else title)
            + (f": {details}" if details else ""),
            kind=kind,
            reason=reason or (f"meta:{code}" if code is not None else f"meta:{problem.value}"),
            retry_after=retry_after,
            backoff_base=backoff_base,
        )
        self.code = code
        self.title = title
        self.details = details
        self.problem = problem
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id


#: How the reason of every ``ChatError`` begins (``slack:not_in_channel``).
SLACK_REASON: Final = "slack:"


class ChatError(ExternalError):
    """A chat-surface call that failed; ``error`` is the surface's own error string."""

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        error: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, kind=kind, reason=f"{SLACK_REASON}{error}", retry_after=retry_after
        )
        self.error = error


class WebhookParseError(BridgeError):
    """A webhook body that is not JSON or not shaped like a WhatsApp webhook at all."""


class ConversationNotFoundError(BridgeError):
    """No conversation matches."""


class RefusedError(BridgeError):
    """A request turned down before anything was stored or sent. ``reason`` is short and
    stable (``window_expired``); ``details`` are values that explain it (JSON-safe)."""

    def __init__(
        self, message: str, *, reason: str, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.details = dict(details or {})


class InvalidContentError(RefusedError):
    """Content that WhatsApp would refuse; ``field`` is where, as ``content.buttons[3].title``."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, reason="invalid_content", details={"field": field})
        self.field = field


class JobDecodeError(BridgeError):
    """A stored job this version cannot read (an unknown type, or a payload of another shape)."""


class UnworkableJobError(BridgeError):
    """A job that can never succeed; it ends ``failed`` at once with ``reason``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class JobNotReadyError(BridgeError):
    """A job that must wait for another first (a notice for a thread not opened yet)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class LeaseLostError(BridgeError):
    """The worker's lease on a job ran out; the outcome belongs to whoever holds it now."""
