"""How an outside call failed, in the core's words: the adapters map their own codes onto these.

``FailureKind`` decides what happens to a job; ``DeliveryProblem`` decides what the agent
is told about a WhatsApp message that did not go out. Neither knows a Meta or Slack code.
"""

from __future__ import annotations

import enum

__all__ = ["DeliveryProblem", "FailureKind"]


class FailureKind(enum.StrEnum):
    """What a failed outside call means for the job that made it."""

    #: A retry may help: retried with capped backoff for up to ``WABRIDGE_RETRY_FOR``.
    TRANSIENT = "transient"
    #: The other side asked us to slow down: retried after the delay it gave, same bound.
    THROTTLED = "throttled"
    #: Retrying cannot help: the job ends ``failed`` at once, with its reason.
    PERMANENT = "permanent"
    #: Credentials or access an operator must fix: that adapter's work pauses, nothing is
    #: discarded, and it resumes by itself once a call succeeds again.
    AUTH = "auth"
    #: The request left and no answer came: it may have taken effect, so it is never
    #: repeated blindly.
    UNKNOWN_OUTCOME = "unknown_outcome"

    @property
    def retryable(self) -> bool:
        return self in (FailureKind.TRANSIENT, FailureKind.THROTTLED)


class DeliveryProblem(enum.StrEnum):
    """Why a WhatsApp message did not go out, as far as the agent needs to know."""

    WINDOW_CLOSED = "window_closed"
    UNDELIVERABLE = "undeliverable"
    CREDENTIALS = "credentials"
    PERMISSION = "permission"
    POLICY_BLOCK = "policy_block"
    BILLING = "billing"
    NUMBER_NOT_REGISTERED = "number_not_registered"
    THROTTLED = "throttled"
    RECIPIENT_THROTTLED = "recipient_throttled"
    MARKETING_HELD = "marketing_held"
    MEDIA_UNSUPPORTED = "media_unsupported"
    MEDIA_TOO_LARGE = "media_too_large"
    TYPE_UNSUPPORTED = "type_unsupported"
    EXPERIMENT = "experiment"
    TEMPLATE = "template"
    TEMPORARY = "temporary"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_OUTCOME = "unknown_outcome"
    EARLIER_PART_FAILED = "earlier_part_failed"
    OTHER = "other"
